"""Hugging Face Spaces entry point (and `make run`): the MedPic Gradio app.

Honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default http://127.0.0.1:7860) and every
MEDPIC_* variable of the README. At start-up the model comes from MEDPIC_MODEL_REPO on the Hub
when set, else the bundled copy; the page and health() say which.
"""

import logging

from medpic.app import build_app
from medpic.logs import configure as configure_logging
from medpic.settings import Settings

configure_logging(verbose=False, level=logging.INFO)  # the server's own log; library chatter stays out

demo = build_app(Settings.from_env())

if __name__ == "__main__":
    demo.launch(show_error=True)
