from tests.client import ApiClient
from workforce.settings import Settings


def test_health_reports_database(client: ApiClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert response.headers["X-Request-ID"]


def test_health_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    from workforce.app import create_app
    from workforce.db import Database
    from workforce.notifications.senders import MemorySender

    # Port 9 on loopback: nothing listens, the connection is refused at once.
    unreachable = Database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    app = create_app(settings, database=unreachable, email_sender=MemorySender(),
                     configure_logging=False)
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
