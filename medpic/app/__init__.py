"""The Gradio face of MedPic: a chat-style demo and named API endpoints over one shared service."""

from medpic.app.service import MedPicService
from medpic.app.ui import build_app

__all__ = ["MedPicService", "build_app"]
