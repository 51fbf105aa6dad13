#!/usr/bin/env bash
# Builds and installs mod_audio_stream (community edition, github.com/amigniter/mod_audio_stream)
# for the FreeSWITCH installed on this machine. See ../README.md, "mod_audio_stream".
#
#   build.sh [--ref REF] [--src DIR] [--freeswitch-prefix DIR] [--dry-run]
#
#   --ref REF                git branch, tag or commit to build (default: main). Pin the commit
#                            you validated: the module's behaviour (streamAudio, ::play) differs
#                            between builds.
#   --src DIR                where to clone (default: /usr/src/mod_audio_stream)
#   --freeswitch-prefix DIR  FreeSWITCH built from source, e.g. /usr/local/freeswitch: its
#                            lib/pkgconfig is added to PKG_CONFIG_PATH. Not needed with the
#                            Debian packages (libfreeswitch-dev).
#   --dry-run                print the commands, run nothing
#
# Needs: git cmake g++ pkg-config and the development packages
#   libfreeswitch-dev libssl-dev zlib1g-dev libevent-dev libspeexdsp-dev
# The module is installed into FreeSWITCH's modules directory (pkg-config freeswitch modulesdir).
set -euo pipefail

ref=main
src=/usr/src/mod_audio_stream
fs_prefix=
dry_run=0
repo=https://github.com/amigniter/mod_audio_stream.git

# The header comment above is the help text.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

while [ $# -gt 0 ]; do
	case "$1" in
		--ref) ref=${2:?--ref needs a value}; shift 2 ;;
		--src) src=${2:?--src needs a value}; shift 2 ;;
		--freeswitch-prefix) fs_prefix=${2:?--freeswitch-prefix needs a value}; shift 2 ;;
		--dry-run) dry_run=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) echo "build.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done

run() {
	printf '+ %s\n' "$*"
	if [ "$dry_run" -eq 0 ]; then "$@"; fi
}

if [ -n "$fs_prefix" ]; then
	export PKG_CONFIG_PATH="$fs_prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi

missing=()
for tool in git cmake make pkg-config; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ] && [ "$dry_run" -eq 0 ]; then
	echo "build.sh: missing tools: ${missing[*]}" >&2
	echo "  apt-get install -y git cmake g++ pkg-config libfreeswitch-dev libssl-dev zlib1g-dev libevent-dev libspeexdsp-dev" >&2
	exit 1
fi
if [ "$dry_run" -eq 0 ] && ! pkg-config --exists freeswitch; then
	echo "build.sh: pkg-config cannot find FreeSWITCH. Install libfreeswitch-dev, or pass" >&2
	echo "  --freeswitch-prefix /usr/local/freeswitch for a source build." >&2
	exit 1
fi

if [ ! -d "$src/.git" ]; then
	run git clone "$repo" "$src"
fi
# Fetching the ref itself works for branches, tags and commit ids alike.
run git -C "$src" fetch --tags origin "$ref"
run git -C "$src" checkout --detach FETCH_HEAD
run git -C "$src" submodule update --init --recursive
run cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DUSE_TLS=ON
run cmake --build "$src/build" -j "$(nproc 2>/dev/null || echo 2)"
run cmake --install "$src/build"

if [ "$dry_run" -eq 0 ]; then
	echo "Built $(git -C "$src" rev-parse HEAD) into $(pkg-config --variable=modulesdir freeswitch)"
fi
cat <<'TXT'
Next:
  1. add <load module="mod_audio_stream"/> to autoload_configs/modules.conf.xml
     (freeswitch-conf/mod_audio_stream/modules.conf.snippet.xml), or under FusionPBX
     Advanced > Modules;
  2. fs_cli -x 'load mod_audio_stream' && fs_cli -x 'module_exists mod_audio_stream'
TXT
