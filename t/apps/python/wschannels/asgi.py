import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wschannels.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from wschannels.consumers import ChatConsumer, SyncEchoConsumer  # noqa

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": URLRouter([
        path("chat/<str:room>", ChatConsumer.as_asgi()),
        path("echo", SyncEchoConsumer.as_asgi()),
    ]),
})
