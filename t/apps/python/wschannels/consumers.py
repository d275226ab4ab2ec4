import json
import os

from channels.generic.websocket import (AsyncWebsocketConsumer,
                                        WebsocketConsumer)


def record(line):
    path = os.environ.get("ASGI_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room = "chat_" + self.scope["url_route"]["kwargs"]["room"]
        if self.room == "chat_closed":
            await self.close()  # before accept: the client gets 403
            return
        await self.channel_layer.group_add(self.room, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        record("channels disconnect %s" % code)
        await self.channel_layer.group_discard(self.room, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(
            self.room, {"type": "chat.message", "text": text_data})

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"message": event["text"]}))


class SyncEchoConsumer(WebsocketConsumer):
    """A synchronous consumer: Channels runs it in a thread and calls the
    server's send through asgiref's async_to_sync."""

    def receive(self, text_data=None, bytes_data=None):
        self.send(text_data="sync echo: %s" % text_data)
