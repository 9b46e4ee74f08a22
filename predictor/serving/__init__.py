"""The server around the model: KServe 0.21's ``ModelServer``, adapted and hardened.

Nothing here knows about breast cancer; the model room (``predictor/``) never imports this
package. Each module is one concern, and the ones that reach into KServe's internals say so
(``tests/upstream/`` holds a canary per KServe behaviour worked around here: when a KServe
upgrade fixes one, its canary fails and names the code to delete):

* :mod:`.server`    wiring: KServe's REST (single- or multi-process) and gRPC servers with
                    everything below, started from the settings (``predictor.settings``);
* :mod:`.drain`     graceful drain on SIGTERM (readiness 503, ``Connection: close``);
* :mod:`.limits`    request limits: body size, JSON depth, time to answer
                    (:mod:`.deadlines`: one timer for all requests in flight;
                    :mod:`.encoding`: gzip/deflate bodies, bounded while inflating);
* :mod:`.routes`    the route table: every path shape the layers tell apart, in one place;
* :mod:`.refusals`  routes KServe registers that this server refuses, 405 for non-POST verbs;
* :mod:`.rejection` the one JSON error body, and one WARNING line per refused request;
* :mod:`.ports`     a port another process holds is an exit-2 line, before listening;
* :mod:`.decoding`  client input KServe cannot decode is a 400, not a 500;
* :mod:`.fast_lane` V1 predictions and V2 JSON inference answered in front of KServe's app,
                    identically (:mod:`.fast_lane_v2`: the V2 half);
* :mod:`.v2_json`   V2 JSON answers without ``null`` members;
* :mod:`.grpc`      KServe's gRPC server plus the standard health service (and reflection);
* :mod:`.workers`   supervision of ``--workers > 1`` processes;
* :mod:`.eventloop` uvloop for the single-process server;
* :mod:`.startup`   the garbage collector paused while importing, frozen after load;
                    (:mod:`.deferred_imports`: KServe's unused heavy imports made lazy);
* :mod:`.logs`      one logging setup for the predictor, KServe and uvicorn.

Importing this package is cheap (no KServe): ``startup`` runs before the heavy imports.
"""
