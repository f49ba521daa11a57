from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmI(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        user = request.user
        return Response({"sub": user.sub, "client_id": user.client_id, "scope": user.scope, "roles": user.roles, "groups": user.groups})


urlpatterns = [path("whoami", WhoAmI.as_view())]
