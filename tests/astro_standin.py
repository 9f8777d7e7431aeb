"""A local stand-in for Astronomer's deploy API (the cloud cannot be reached from CI).

It follows the published contract: the same paths, JSON bodies, Bearer auth, status codes and
the upload-URL flow (create deploy -> PUT the tarball with ``x-ms-blob-type: BlockBlob`` ->
``x-ms-version-id`` -> finalize). It records every request and, on finalize, does what a
deployment does with the tarball: a DAG_ONLY deploy replaces the whole dags folder; a BUNDLE
deploy replaces only its mount path. ``dags_root`` plays the deployment's Airflow home.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class AstroStandIn:
    def __init__(
        self,
        *,
        token: str,
        organization_id: str,
        deployment_id: str,
        dags_root: Path,
        mount_prefix: str = "/usr/local/airflow",
    ):
        self.token = token
        self.organization_id = organization_id
        self.deployment_id = deployment_id
        self.dags_root = Path(dags_root)  # where mount_prefix lands on this machine
        self.mount_prefix = mount_prefix
        self.requests: list[dict] = []
        self.deploys: dict[str, dict] = {}
        self.blobs: dict[str, dict[str, bytes]] = {}
        self.fail_upload = False
        self.reject_finalize = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.api_url = self.url + "/platform/v1beta1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def path_of(self, mount_path: str) -> Path:
        return self.dags_root / Path(mount_path).relative_to(self.mount_prefix)

    # --- the contract -------------------------------------------------------------------

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: dict | None = None, headers: dict | None = None):
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_PUT(self):
                body = self._body()
                standin.requests.append(
                    {
                        "method": "PUT",
                        "path": self.path,
                        "headers": dict(self.headers),
                        "size": len(body),
                    }
                )
                match = re.fullmatch(r"/blob/([\w-]+)\?sig=[\w]+", self.path)
                if not match or match.group(1) not in standin.deploys:
                    return self._reply(404, {"message": "no such blob"})
                if "Authorization" in self.headers:  # pre-signed URL: a token here is a leak
                    return self._reply(400, {"message": "unexpected Authorization header"})
                if self.headers.get("x-ms-blob-type") != "BlockBlob":
                    return self._reply(400, {"message": "x-ms-blob-type must be BlockBlob"})
                if standin.fail_upload:
                    return self._reply(503, {"message": "blob store unavailable"})
                version = f"{time.time_ns()}"
                standin.blobs[version] = body
                self._reply(201, {}, {"x-ms-version-id": version})

            def do_POST(self):
                body = self._body()
                try:
                    doc = json.loads(body or b"{}")
                except ValueError:
                    return self._reply(400, {"message": "invalid JSON"})
                standin.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": doc,
                    }
                )
                if self.headers.get("Authorization") != f"Bearer {standin.token}":
                    return self._reply(401, {"message": "Unauthorized", "statusCode": 401})
                base = f"/platform/v1beta1/organizations/{standin.organization_id}/deployments/"
                if not self.path.startswith(base):
                    return self._reply(404, {"message": "organization not found"})
                rest = self.path[len(base) :].split("/")
                if rest[0] != standin.deployment_id:
                    return self._reply(404, {"message": f"deployment {rest[0]} not found"})
                if rest[1:] == ["deploys"]:
                    return self._create(doc)
                if len(rest) == 4 and rest[1] == "deploys" and rest[3] == "finalize":
                    return self._finalize(rest[2], doc)
                self._reply(404, {"message": "not found"})

            def _create(self, doc: dict):
                kind = doc.get("type")
                if kind not in ("DAG_ONLY", "IMAGE_AND_DAG", "IMAGE_ONLY", "BUNDLE"):
                    return self._reply(400, {"message": f"invalid type {kind!r}"})
                if kind == "BUNDLE" and not (doc.get("bundleMountPath") and doc.get("bundleType")):
                    return self._reply(
                        400, {"message": "BUNDLE deploys need bundleMountPath and bundleType"}
                    )
                deploy_id = f"deploy-{len(standin.deploys) + 1}"
                url = f"{standin.url}/blob/{deploy_id}?sig=abc123"
                deploy = {
                    "id": deploy_id,
                    "type": kind,
                    "status": "INITIALIZED",
                    "deploymentId": standin.deployment_id,
                }
                if kind == "BUNDLE":
                    deploy.update(
                        bundleMountPath=doc["bundleMountPath"],
                        bundleUploadUrl=url,
                        bundleType=doc["bundleType"],
                    )
                else:
                    deploy["dagsUploadUrl"] = url
                standin.deploys[deploy_id] = deploy
                self._reply(200, deploy)

            def _finalize(self, deploy_id: str, doc: dict):
                deploy = standin.deploys.get(deploy_id)
                if deploy is None:
                    return self._reply(404, {"message": f"deploy {deploy_id} not found"})
                key = "bundleTarballVersion" if deploy["type"] == "BUNDLE" else "dagTarballVersion"
                version = doc.get(key)
                if standin.reject_finalize or version not in standin.blobs:
                    return self._reply(
                        400, {"message": f"{key} {version!r} does not match an upload"}
                    )
                target = (
                    standin.path_of(deploy["bundleMountPath"])
                    if deploy["type"] == "BUNDLE"
                    else standin.dags_root / "dags"
                )
                if target.exists():
                    shutil.rmtree(target)  # a deploy replaces what was at its path
                target.mkdir(parents=True)
                with tarfile.open(fileobj=io.BytesIO(standin.blobs[version]), mode="r:gz") as tar:
                    tar.extractall(target, filter="data")
                deploy["status"] = "DEPLOYED"
                self._reply(200, deploy)

        return Handler
