import inspect

import medpic


def test_all_lists_exactly_the_public_names():
    public = {n for n, v in vars(medpic).items() if not n.startswith("_") and not inspect.ismodule(v)}
    public.discard("annotations")  # from __future__
    assert set(medpic.__all__) - {"__version__"} == public
    for name in medpic.__all__:
        assert getattr(medpic, name) is not None
