"""The HTTP side of a server: /metrics, /healthz and a read-only web view of
workspaces, their history, diffs and files (`citc server --http HOST:PORT`)."""
