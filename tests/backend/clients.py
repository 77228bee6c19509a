"""Client helpers the server tests share (importable by name: a test module cannot import the
``conftest`` of its own folder reliably when other folders have one too)."""
import requests


def make_client_session(server):
    """A ``requests.Session`` that has fetched its identity cookie from ``server``; ``.owner`` is
    its owner id, ``.url`` the base URL."""
    s = requests.Session()
    r = s.get(server.url + "/api/me", timeout=10)
    r.raise_for_status()
    s.owner = r.json()["owner"]
    s.url = server.url
    return s
