"""Blob uploads and downloads through the application: the spec's flows and its refusals."""

from __future__ import annotations

from typing import Any

from dockyard.oci.digest import Digest
from dockyard.registry.context import Options

from .conftest import Api

DATA = b"0123456789" * 1000
DIGEST = Digest.of(DATA)


def start(api: Api, name: str = "lib/app") -> str:
    reply = api("POST", f"/v2/{name}/blobs/uploads/")
    assert (reply.status, reply.headers["Range"]) == (202, "0-0")
    location = reply.headers["Location"]
    assert location == f"/v2/{name}/blobs/uploads/{reply.headers['Docker-Upload-UUID']}"
    return location


def nothing_stored(api: Api, name: str = "lib/app", digest: Digest = DIGEST) -> bool:
    return (not api.store.content.exists(digest)
            and api("HEAD", f"/v2/{name}/blobs/{digest}").status == 404
            and api.store.content.ingests() == [])


def test_monolithic_post_stores_and_serves_the_blob(api: Api) -> None:
    reply = api("POST", f"/v2/lib/app/blobs/uploads/?digest={DIGEST}", DATA)
    assert (reply.status, reply.headers) == (201, {
        "Location": f"/v2/lib/app/blobs/{DIGEST}", "Docker-Content-Digest": str(DIGEST),
        "Docker-Distribution-API-Version": "registry/2.0"})
    got = api("GET", f"/v2/lib/app/blobs/{DIGEST}")
    assert (got.status, got.body, got.headers["Content-Type"]) == (200, DATA,
                                                                  "application/octet-stream")
    head = api("HEAD", f"/v2/lib/app/blobs/{DIGEST}")
    assert (head.status, head.body, head.headers["Docker-Content-Digest"]) == (200, b"",
                                                                             str(DIGEST))


def test_post_then_put(api: Api) -> None:
    location = start(api)
    reply = api("PUT", f"{location}?digest={DIGEST}", DATA)
    assert (reply.status, reply.headers["Location"]) == (201, f"/v2/lib/app/blobs/{DIGEST}")
    assert api("GET", f"/v2/lib/app/blobs/{DIGEST}").body == DATA
    assert api("GET", location).code == "BLOB_UPLOAD_UNKNOWN"


def test_chunked_upload_with_status_and_final_chunk_in_put(api: Api) -> None:
    location = start(api)
    first = api("PATCH", location, DATA[:4000], {"Content-Range": "0-3999",
                                                "Content-Type": "application/octet-stream"})
    assert (first.status, first.headers["Range"], first.headers["Location"]) == (
        202, "0-3999", location)
    second = api("PATCH", location, DATA[4000:9000], {"Content-Range": "4000-8999"})
    assert (second.status, second.headers["Range"]) == (202, "0-8999")
    status = api("GET", location)
    assert (status.status, status.headers["Range"], status.headers["Location"]) == (
        204, "0-8999", location)
    done = api("PUT", f"{location}?digest={DIGEST}", DATA[9000:],
               {"Content-Range": "9000-9999"})
    assert done.status == 201
    assert api("GET", f"/v2/lib/app/blobs/{DIGEST}").body == DATA


def test_streamed_patch_without_content_range(api: Api) -> None:
    location = start(api)
    assert api("PATCH", location, DATA[:5000]).headers["Range"] == "0-4999"
    assert api("PATCH", location, DATA[5000:]).headers["Range"] == "0-9999"
    assert api("PUT", f"{location}?digest={DIGEST}").status == 201


def test_out_of_order_chunk_is_416_and_keeps_the_session(api: Api) -> None:
    location = start(api)
    api("PATCH", location, DATA[:4000], {"Content-Range": "0-3999"})
    reply = api("PATCH", location, DATA[5000:6000], {"Content-Range": "5000-5999"})
    assert (reply.status, reply.code, reply.headers["Range"]) == (416, "BLOB_UPLOAD_INVALID",
                                                                  "0-3999")
    assert api("GET", location).headers["Range"] == "0-3999"
    api("PATCH", location, DATA[4000:], {"Content-Range": "4000-9999"})
    assert api("PUT", f"{location}?digest={DIGEST}").status == 201


def test_first_chunk_must_start_at_zero(api: Api) -> None:
    location = start(api)
    reply = api("PATCH", location, DATA[:10], {"Content-Range": "1-10"})
    assert (reply.status, reply.code) == (416, "BLOB_UPLOAD_INVALID")


def test_content_range_length_mismatch_is_size_invalid(api: Api) -> None:
    location = start(api)
    reply = api("PATCH", location, DATA[:10], {"Content-Range": "0-19"})
    assert (reply.status, reply.code) == (400, "SIZE_INVALID")


def test_wrong_digest_is_digest_invalid_and_stores_nothing(api: Api) -> None:
    other = Digest.of(b"something else")
    reply = api("POST", f"/v2/lib/app/blobs/uploads/?digest={other}", DATA)
    assert (reply.status, reply.code) == (400, "DIGEST_INVALID")
    assert nothing_stored(api) and nothing_stored(api, digest=other)
    location = start(api)
    api("PATCH", location, DATA)
    reply = api("PUT", f"{location}?digest={other}")
    assert (reply.status, reply.code) == (400, "DIGEST_INVALID")
    assert api("GET", location).code == "BLOB_UPLOAD_UNKNOWN"
    assert nothing_stored(api) and nothing_stored(api, digest=other)


def test_truncated_upload_is_digest_invalid(api: Api) -> None:
    location = start(api)
    api("PATCH", location, DATA[:6000])
    reply = api("PUT", f"{location}?digest={DIGEST}")
    assert (reply.status, reply.code) == (400, "DIGEST_INVALID")
    assert nothing_stored(api)


def test_put_without_digest_is_digest_invalid(api: Api) -> None:
    location = start(api)
    assert api("PUT", location, DATA).code == "DIGEST_INVALID"
    assert api("PUT", f"{location}?digest=sha256:nothex").code == "DIGEST_INVALID"


def test_cancel(api: Api) -> None:
    location = start(api)
    api("PATCH", location, DATA[:100])
    assert api("DELETE", location).status == 204
    assert api("GET", location).code == "BLOB_UPLOAD_UNKNOWN"
    assert api("DELETE", location).code == "BLOB_UPLOAD_UNKNOWN"
    assert api.store.content.ingests() == []


def test_unknown_and_malformed_sessions(api: Api) -> None:
    for upload_id in ("6f9619ff-8b86-d011-b42d-00c04fc964ff", "..", "x"):
        reply = api("PATCH", f"/v2/lib/app/blobs/uploads/{upload_id}", b"data")
        assert (reply.status, reply.code) == (404, "BLOB_UPLOAD_UNKNOWN")


def test_session_belongs_to_its_repository(api: Api) -> None:
    location = start(api, "one")
    other = location.replace("/v2/one/", "/v2/two/")
    assert api("PATCH", other, b"data").code == "BLOB_UPLOAD_UNKNOWN"


def test_session_resumes_after_a_restart(make_api: Any, tmp_path: Any) -> None:
    first = make_api()
    location = start(first)
    first("PATCH", location, DATA[:3000])
    first.close()
    second = make_api(root=tmp_path / "registry")
    assert second("GET", location).headers["Range"] == "0-2999"
    second("PATCH", location, DATA[3000:], {"Content-Range": "3000-9999"})
    assert second("PUT", f"{location}?digest={DIGEST}").status == 201


def test_upload_over_the_limit_is_413_and_cancels(make_api: Any) -> None:
    api = make_api(max_upload=5000)
    reply = api("POST", f"/v2/lib/app/blobs/uploads/?digest={DIGEST}", DATA)
    assert (reply.status, reply.code) == (413, "SIZE_INVALID")
    location = start(api)
    api("PATCH", location, DATA[:4000])
    reply = api("PATCH", location, DATA[4000:])
    assert (reply.status, reply.code) == (413, "SIZE_INVALID")
    assert api("GET", location).code == "BLOB_UPLOAD_UNKNOWN"
    assert nothing_stored(api)
    small = b"x" * 5000
    assert api("POST", f"/v2/lib/app/blobs/uploads/?digest={Digest.of(small)}",
               small).status == 201


def test_blob_range_requests(api: Api) -> None:
    api.push_blob("lib/app", DATA)
    url = f"/v2/lib/app/blobs/{DIGEST}"
    cases = {"bytes=0-9": (206, DATA[:10], "bytes 0-9/10000"),
             "bytes=9990-": (206, DATA[9990:], "bytes 9990-9999/10000"),
             "bytes=-5": (206, DATA[-5:], "bytes 9995-9999/10000"),
             "bytes=100-99999": (206, DATA[100:], "bytes 100-9999/10000"),
             "bytes=0-1,5-6": (200, DATA, None), "items=0-1": (200, DATA, None)}
    for header, (status, body, content_range) in cases.items():
        reply = api("GET", url, headers={"Range": header})
        assert (reply.status, reply.body, reply.headers.get("Content-Range")) == (
            status, body, content_range), header
    reply = api("GET", url, headers={"Range": "bytes=10000-"})
    assert (reply.status, reply.headers["Content-Range"]) == (416, "bytes */10000")


def test_blob_unknown_and_invalid_digest(api: Api) -> None:
    api.push_blob("lib/app", DATA)
    assert api("GET", f"/v2/lib/other/blobs/{DIGEST}").code == "BLOB_UNKNOWN"
    reply = api("GET", "/v2/lib/app/blobs/sha256:1234")
    assert (reply.status, reply.code) == (400, "DIGEST_INVALID")


def test_blobs_are_stored_once_across_repositories(api: Api) -> None:
    api.push_blob("one", DATA)
    api.push_blob("two", DATA)
    assert [info.digest for info in api.store.content.walk()] == [DIGEST]


def test_cross_repository_mount(api: Api) -> None:
    api.push_blob("one", DATA)
    reply = api("POST", f"/v2/two/blobs/uploads/?mount={DIGEST}&from=one")
    assert (reply.status, reply.headers["Location"]) == (201, f"/v2/two/blobs/{DIGEST}")
    assert api("GET", f"/v2/two/blobs/{DIGEST}").body == DATA
    missing = Digest.of(b"absent")
    fallback = api("POST", f"/v2/three/blobs/uploads/?mount={missing}&from=one")
    assert (fallback.status, "Docker-Upload-UUID" in fallback.headers) == (202, True)


def test_blob_delete(make_api: Any) -> None:
    api = make_api()
    api.push_blob("one", DATA)
    api.push_blob("two", DATA)
    assert api("DELETE", f"/v2/one/blobs/{DIGEST}").status == 202
    assert api("GET", f"/v2/one/blobs/{DIGEST}").code == "BLOB_UNKNOWN"
    assert api("GET", f"/v2/two/blobs/{DIGEST}").status == 200
    assert api("DELETE", f"/v2/one/blobs/{DIGEST}").code == "BLOB_UNKNOWN"
    off = make_api(Options(), root=api.store.root)
    reply = off("DELETE", f"/v2/two/blobs/{DIGEST}")
    assert (reply.status, reply.code) == (405, "UNSUPPORTED")


def test_read_only_refuses_writes_and_serves_reads(make_api: Any) -> None:
    api = make_api()
    api.push_blob("one", DATA)
    ro = make_api(Options(read_only=True, delete_enabled=True), root=api.store.root)
    for method, url in (("POST", "/v2/one/blobs/uploads/"),
                        ("DELETE", f"/v2/one/blobs/{DIGEST}"),
                        ("PUT", "/v2/one/manifests/latest")):
        reply = ro(method, url)
        assert (reply.status, reply.code) == (405, "UNSUPPORTED"), url
    assert ro("GET", f"/v2/one/blobs/{DIGEST}").body == DATA


def test_idle_writers_close_and_their_sessions_resume(api: Api) -> None:
    locations = [start(api) for _ in range(3)]
    for location in locations:
        api("PATCH", location, DATA[:1000])
    api.runner.run(api.uploads.reap(keep=1))
    for location in locations:
        api("PATCH", location, DATA[1000:], {"Content-Range": "1000-9999"})
        assert api("GET", location).headers["Range"] == "0-9999"
    assert [api("PUT", f"{loc}?digest={DIGEST}").status for loc in locations] == [201] * 3


def test_a_started_session_holds_no_lock(api: Api) -> None:
    location = start(api)
    upload_id = location.rsplit("/", 1)[1]
    with api.store.content.writer(f"upload/lib/app/{upload_id}") as writer:
        assert writer.offset == 0
