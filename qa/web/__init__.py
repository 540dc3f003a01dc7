"""The web chat (`python app.py`): a Gradio 6 page and API over a loaded engine.

* `service` - what the chat does, without Gradio: question checks, the error mapping
  (`Refused`, Chinese + English), answering, the documents (list / add / paste / remove).
* `format`, `article`, `docs`, `examples` - what the page shows, as escaped text (pure functions).
* `page` - the handlers; `layout` - the Blocks page, its wiring and launch settings;
  `api` - the endpoints for `gradio_client`.
* `assets/` - the stylesheet and scripts (`chat.css`, `chat.js`, `article.js`).

See docs/web.md.
"""
from .layout import build_app, launch_kwargs, theme
from .service import ChatService, Refused

__all__ = ["ChatService", "Refused", "build_app", "launch_kwargs", "theme"]
