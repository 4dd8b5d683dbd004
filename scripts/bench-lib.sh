# Shared by scripts/bench-feed and scripts/bench-compare (sourced, not run): a release server on a
# dataset, restarted per configuration, and the scenario lists. Expects $url (the dataset) and
# $listen; `serve <bin dir> [VAR=value …]` (re)starts `picshare serve` with those settings.
data_dir="$(mktemp -d)"
# The servers' own logs (slow statements and the like), kept apart from the tables.
server_log="${TMPDIR:-/tmp}/picshare-bench-server.log"
: >"$server_log"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$data_dir"' EXIT

serve() {
  local bin="$1"; shift
  [ -n "$server" ] && kill "$server" && wait "$server" 2>/dev/null || true
  env PICSHARE_DATABASE_URL="$url" PICSHARE_DATA_DIR="$data_dir" PICSHARE_LISTEN="$listen" \
    PICSHARE_LOG_LEVEL=warn PICSHARE_DATABASE_MAX_CONNECTIONS=16 PICSHARE_RATE_LIMITS=off "$@" \
    "$bin/picshare" serve >>"$server_log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -fs "http://$listen/healthz" >/dev/null && return; sleep 0.1; done
  echo "the server did not start" >&2; exit 1
}

reads=healthz,feed_first_page_heavy,feed_first_page_inactive_followees,feed_page_50,feed_page_50_inactive_followees,feed_mixed_users
feed_scenarios=feed_first_page_heavy,feed_first_page_inactive_followees,feed_page_50,feed_page_50_inactive_followees

# Fresh table statistics and no dead rows, as autovacuum keeps them in production (it may be off
# on a development database): building and trimming timelines changes millions of rows.
settle() { case "$url" in postgres*) psql -q "$url" -c "VACUUM ANALYZE" ;; esac; }
