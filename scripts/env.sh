# Shared build settings for the project's scripts (sourced, not run).
if command -v mold >/dev/null 2>&1; then
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=-fuse-ld=mold"
fi
# The release binaries the fleet and the client tests run: one package set everywhere, so
# features unify the same way and nothing is rebuilt between scripts.
release_build() {
  cargo build --release --locked -q -p picshare -p picshare-bench --bins --example s3_server
}
export PICSHARE_TEST_POSTGRES_URL="${PICSHARE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export PICSHARE_TEST_REDIS_SERVER="${PICSHARE_TEST_REDIS_SERVER:-redis://127.0.0.1:6379}"
