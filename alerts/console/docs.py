"""The API's ``/docs`` page: Swagger UI from the console's vendored copy, so it works offline.

FastAPI's default page loads Swagger UI from a CDN and is blank on a machine without internet; this
one names only files under ``/console/static/vendor/swagger-ui`` (pinned in ``VENDOR.json``). The
online validator badge is switched off (``validatorUrl: null``): it would call out to a public host.
"""

from __future__ import annotations

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from alerts.console.web import PREFIX

SWAGGER = f"{PREFIX}/static/vendor/swagger-ui"
SWAGGER_JS = f"{SWAGGER}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{SWAGGER}/swagger-ui.css"
SWAGGER_FAVICON = f"{SWAGGER}/favicon-32x32.png"


def swagger_ui(openapi_url: str, title: str) -> HTMLResponse:
    """The Swagger UI page for the OpenAPI document at ``openapi_url``."""
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - API docs",
        swagger_js_url=SWAGGER_JS,
        swagger_css_url=SWAGGER_CSS,
        swagger_favicon_url=SWAGGER_FAVICON,
        swagger_ui_parameters={"validatorUrl": None},
    )
