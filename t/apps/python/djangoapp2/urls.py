from django.http import HttpResponse, JsonResponse
from django.urls import path


async def hello(request):
    return HttpResponse("Hello from Django\n", content_type="text/plain")


async def echo(request):
    return HttpResponse(request.body, content_type="application/octet-stream")


def info(request):
    return JsonResponse({"method": request.method, "path": request.path,
                         "q": request.GET.get("q", "")})


urlpatterns = [
    path("d/hello", hello),
    path("d/echo", echo),
    path("d/info", info),
]
