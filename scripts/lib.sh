# shellcheck shell=bash
# Shared by scripts/build, scripts/run and scripts/test: where the repository
# and the build directory are, and how to build. Sourced, never executed.

# The repository root: the parent of this file's directory.
DEADPEER_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)

deadpeer_log() {
  printf '%s: %s\n' "${0##*/}" "$*" >&2
}

deadpeer_die() {
  deadpeer_log "$*"
  exit 1
}

deadpeer_jobs() {
  nproc 2>/dev/null || echo 1
}

# Prints the build directory:
#   $DEADPEER_BUILD_DIR if set; else <repo>/build when the caller may write
#   there; else ${TMPDIR:-/tmp}/deadpeer-build-<uid>-<checksum of the
#   checkout's path>, one per user and checkout (CMake refuses a build
#   directory made for another source tree), which must be the caller's own
#   (another user could have made it first).
deadpeer_build_dir() {
  if [[ -n ${DEADPEER_BUILD_DIR:-} ]]; then
    printf '%s\n' "$DEADPEER_BUILD_DIR"
    return
  fi
  local in_repo="$DEADPEER_ROOT/build"
  if [[ -d $in_repo && -w $in_repo ]] || [[ ! -e $in_repo && -w $DEADPEER_ROOT ]]; then
    printf '%s\n' "$in_repo"
    return
  fi
  local fallback
  local checkout
  checkout=$(printf '%s' "$DEADPEER_ROOT" | cksum | cut -d' ' -f1)
  fallback="${TMPDIR:-/tmp}/deadpeer-build-$(id -u)-$checkout"
  if [[ -e $fallback && ! ( -d $fallback && -O $fallback && -w $fallback ) ]]; then
    deadpeer_die "$fallback exists but is not a directory owned and writable by $(id -un);" \
      "remove it or set DEADPEER_BUILD_DIR"
  fi
  printf '%s\n' "$fallback"
}

# Configures (RelWithDebInfo unless CMAKE_BUILD_TYPE says otherwise, see
# CMakeLists.txt) and builds everything into $(deadpeer_build_dir). Output
# goes to stderr, so that a program run afterwards owns stdout.
deadpeer_build() {
  local dir
  dir=$(deadpeer_build_dir) || return 1
  mkdir -p -- "$dir" || deadpeer_die "cannot create build directory $dir"
  cmake -S "$DEADPEER_ROOT" -B "$dir" >&2 || deadpeer_die "cmake configure failed in $dir"
  cmake --build "$dir" -j "$(deadpeer_jobs)" >&2 || deadpeer_die "build failed in $dir"
}
