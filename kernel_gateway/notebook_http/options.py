"""notebook-http mode's options: how endpoints answer, and how apps are served and deployed.

Each option is a trait tagged with its `KG_*` variable (config.py reads it).
`NotebookHTTPPersonality` inherits these traits, so they are configured as
`NotebookHTTPPersonality.<name>` (command line, config file) and listed under it by `--help-all`.
"""

from __future__ import annotations

from traitlets import Bool, CaselessStrEnum, Dict, HasTraits, Integer, Unicode

from ..config import Seconds

MiB = 1024 * 1024


class EndpointOptions(HasTraits):
    """How the endpoints of every app parse, run and answer."""

    allow_notebook_download = Bool(
        False, help="Serve the notebook at /_api/source (KG_ALLOW_NOTEBOOK_DOWNLOAD env var)"
    ).tag(config=True, env="KG_ALLOW_NOTEBOOK_DOWNLOAD")
    static_path = Unicode(
        None,
        allow_none=True,
        help="Serve the files under this folder at /public/ (KG_STATIC_PATH env var)",
    ).tag(config=True, env="KG_STATIC_PATH")
    cell_parser = Unicode(
        "kernel_gateway.notebook_http.cell.parser",
        help="The module that finds endpoints in the notebook: "
        "'kernel_gateway.notebook_http.cell.parser' (`# GET /path` cells) or "
        "'kernel_gateway.notebook_http.swagger.parser' (an OpenAPI document in the first cell "
        "and `# operationId: id` cells) (KG_CELL_PARSER env var)",
    ).tag(config=True, env="KG_CELL_PARSER")
    comment_prefix = Dict(
        {},
        help="Kernel language -> line comment prefix, added to the built-in table "
        "(`#` for python, r, julia, bash; `//` for scala, java, javascript, go, c++)",
    ).tag(config=True)
    max_body_size = Integer(
        10 * MiB,
        min=0,
        help="Largest request body in bytes; larger ones get 413 (KG_MAX_BODY_SIZE env var)",
    ).tag(config=True, env="KG_MAX_BODY_SIZE")
    request_timeout = Seconds(
        0.0,
        help="Seconds a request's cells may run before it gets 504 and the kernel is "
        "interrupted; 0 means no limit (KG_REQUEST_TIMEOUT env var)",
    ).tag(config=True, env="KG_REQUEST_TIMEOUT")
    max_queue_wait = Seconds(
        0.0,
        help="Seconds a request may wait for a free kernel before it gets 503; 0 means "
        "as long as it takes (KG_MAX_QUEUE_WAIT env var)",
    ).tag(config=True, env="KG_MAX_QUEUE_WAIT")
    fast_path = Bool(
        True,
        help="Serve requests on IPython kernels through a request runner installed in each "
        "kernel at seed time (one comm message per request, no execute_request); other "
        "kernels use the execute path either way (KG_FAST_PATH env var)",
    ).tag(config=True, env="KG_FAST_PATH")
    max_response_size = Integer(
        100 * MiB,
        min=0,
        help="Largest response body in bytes: a larger buffered one gets 500, a streamed one "
        "is cut, and the cell is interrupted (KG_MAX_RESPONSE_SIZE env var)",
    ).tag(config=True, env="KG_MAX_RESPONSE_SIZE")
    stream_buffer_size = Integer(
        16 * MiB,
        min=0,
        help="Bytes of a streamed response that may wait for a slow client; past them the "
        "stream is cut and the cell interrupted (KG_STREAM_BUFFER_SIZE env var)",
    ).tag(config=True, env="KG_STREAM_BUFFER_SIZE")
    sse_ping_interval = Seconds(
        15.0,
        help="Seconds of silence after which an event stream gets a comment line, so that "
        "proxies keep it open; 0 means never (KG_SSE_PING_INTERVAL env var)",
    ).tag(config=True, env="KG_SSE_PING_INTERVAL")
    show_tracebacks = Bool(
        False,
        help="Include the kernel's traceback in the 500 answer of a failing cell "
        "(KG_SHOW_TRACEBACKS env var)",
    ).tag(config=True, env="KG_SHOW_TRACEBACKS")


class AppsOptions(HasTraits):
    """The apps of apps_dir: starting, stopping, reloading, deploying."""

    apps_dir = Unicode(
        None,
        allow_none=True,
        help="Serve each notebook of this folder (<slug>.ipynb, or <slug>/ with one notebook) "
        "at /apps/<slug>/ (KG_APPS_DIR env var)",
    ).tag(config=True, env="KG_APPS_DIR")
    apps_start = CaselessStrEnum(
        ["lazy", "eager"],
        "lazy",
        help="Start an app on its first request ('lazy') or every app at start-up ('eager') "
        "(KG_APPS_START env var)",
    ).tag(config=True, env="KG_APPS_START")
    app_start_timeout = Seconds(
        60.0,
        help="Seconds an app may take to start its seeded kernels before it is marked failed "
        "(KG_APP_START_TIMEOUT env var)",
    ).tag(config=True, env="KG_APP_START_TIMEOUT")
    app_idle_stop = Seconds(
        0.0,
        help="Shut an app's kernels down after this many seconds without a request; 0 means "
        "never (KG_APP_IDLE_STOP env var)",
    ).tag(config=True, env="KG_APP_IDLE_STOP")
    watch_seed = Bool(
        False,
        help="Reload the seed notebook when its file changes, without downtime "
        "(KG_WATCH_SEED env var)",
    ).tag(config=True, env="KG_WATCH_SEED")
    max_app_size = Integer(
        100 * MiB,
        min=0,
        help="Largest deployed app in bytes, a zip's unpacked entries counted "
        "(KG_MAX_APP_SIZE env var)",
    ).tag(config=True, env="KG_MAX_APP_SIZE")
    ephemeral_ttl = Seconds(
        600.0,
        help="Seconds after its last request that an app made by POST /_api/apps is removed "
        "(KG_EPHEMERAL_TTL env var)",
    ).tag(config=True, env="KG_EPHEMERAL_TTL")
    deploy_key = Unicode(
        "",
        help="Key of the HMAC-SHA256 signatures that may deploy apps without the token "
        "(KG_DEPLOY_KEY env var)",
    ).tag(config=True, env="KG_DEPLOY_KEY")
    deploy_signature_ttl = Seconds(
        300.0,
        help="Seconds a deploy signature stays valid, either side of its timestamp "
        "(KG_DEPLOY_SIGNATURE_TTL env var)",
    ).tag(config=True, env="KG_DEPLOY_SIGNATURE_TTL")
