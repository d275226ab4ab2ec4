"""A Django Channels project for t/websocket.t: a chat room over the
in-memory channel layer (one worker process)."""
SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "wschannels.urls"
INSTALLED_APPS = ["channels"]
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
ASGI_APPLICATION = "wschannels.asgi.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
