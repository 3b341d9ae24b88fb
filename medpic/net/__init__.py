"""Bytes from the network, never from where a stranger should not reach.

    guard.py      which URLs and addresses may be fetched (the network guard)
    fetch.py      Fetcher: every hop vetted, one wall-clock deadline, a byte cap; transports
    download.py   ImageDownloader: the one way image URLs become bytes, in order, as they arrive
"""
