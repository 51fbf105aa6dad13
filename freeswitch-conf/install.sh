#!/usr/bin/env bash
# Installs Switchboard's FreeSWITCH configuration: the dialplan hook, the Event Socket on
# loopback with a private password, ACLs and (on request) hardened SIP profiles and fail2ban.
# Idempotent: a second run with the same options changes nothing. Every file it replaces is kept
# next to the original (NAME.before-switchboard). See README.md in this folder.
#
#   install.sh [options]
#
#   --prefix DIR           FreeSWITCH configuration directory (default: /etc/freeswitch if it
#                          exists, else /usr/local/freeswitch/conf)
#   --fusionpbx            FusionPBX: install only what FusionPBX does not keep in its database
#                          (event socket + password) and print the steps for its web UI
#   --fusionpbx-config F   FusionPBX settings file that must carry the same ESL password
#                          (default: /etc/fusionpbx/config.conf, skipped when absent)
#   --esl-password PW      Event Socket password (16-128 of A-Z a-z 0-9 . _ ~ + -). Default: keep
#                          the one installed before, or generate one
#   --env-file FILE        also write SB_ESL_PASSWORD into this Switchboard environment file
#   --sip-profiles         also install sip_profiles/internal.xml and external.xml (plain
#                          FreeSWITCH only: replaces the existing profiles, keeping a backup)
#   --fail2ban-dir DIR     also install the fail2ban filters and jail into DIR (/etc/fail2ban)
#   --dry-run              print what would change and change nothing
#   -h, --help             this text
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_conf="$here/conf"
src_fail2ban="$here/fail2ban"

prefix=
fusionpbx=0
fusionpbx_config=/etc/fusionpbx/config.conf
esl_password=
env_file=
sip_profiles=0
fail2ban_dir=
dry_run=0

# The header comment above is the help text.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "install.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
		--prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
		--fusionpbx) fusionpbx=1; shift ;;
		--fusionpbx-config) fusionpbx_config=${2:?--fusionpbx-config needs a file}; shift 2 ;;
		--esl-password) esl_password=${2:?--esl-password needs a value}; shift 2 ;;
		--env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
		--sip-profiles) sip_profiles=1; shift ;;
		--fail2ban-dir) fail2ban_dir=${2:?--fail2ban-dir needs a directory}; shift 2 ;;
		--dry-run) dry_run=1; shift ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; die "unknown option: $1" ;;
	esac
done

if [ -z "$prefix" ]; then
	if [ -d /etc/freeswitch ]; then
		prefix=/etc/freeswitch
	elif [ -d /usr/local/freeswitch/conf ]; then
		prefix=/usr/local/freeswitch/conf
	else
		die "no FreeSWITCH configuration found in /etc/freeswitch or /usr/local/freeswitch/conf; pass --prefix"
	fi
fi
prefix=${prefix%/}
[ -d "$prefix/autoload_configs" ] || die "$prefix does not look like a FreeSWITCH configuration directory (no autoload_configs/)"
if [ "$fusionpbx" -eq 1 ] && [ "$sip_profiles" -eq 1 ]; then
	die "--sip-profiles does not apply to FusionPBX, which keeps SIP profiles in its database (Advanced > SIP Profiles)"
fi
if [ -n "$fail2ban_dir" ] && [ ! -d "$fail2ban_dir" ]; then
	die "--fail2ban-dir $fail2ban_dir does not exist (is fail2ban installed?)"
fi

password_ok() { [[ $1 =~ ^[A-Za-z0-9._~+-]{16,128}$ ]]; }
if [ -n "$esl_password" ] && ! password_ok "$esl_password"; then
	die "--esl-password must be 16 to 128 characters from A-Z a-z 0-9 . _ ~ + - (no spaces, quotes or \$)"
fi

changed=0
tmp_dir=$(mktemp -d)
trap 'rm -rf "$tmp_dir"' EXIT

# Paths are printed relative to the FreeSWITCH configuration directory when they are inside it.
show() { case "$1" in "$prefix"/*) printf '%s' "${1#"$prefix"/}" ;; *) printf '%s' "$1" ;; esac; }

mode_of() { stat -c '%a' "$1"; }

# install_file RENDERED DEST MODE: put RENDERED at DEST unless DEST already has that content and
# mode; keep whatever it replaces.
install_file() {
	local rendered=$1 dest=$2 mode=$3 backup
	if [ -f "$dest" ] && cmp -s "$rendered" "$dest" && [ "$(mode_of "$dest")" = "$mode" ]; then
		printf 'unchanged  %s\n' "$(show "$dest")"
		return
	fi
	changed=$((changed + 1))
	if [ ! -e "$dest" ]; then
		if [ "$dry_run" -eq 1 ]; then
			printf 'would create  %s\n' "$(show "$dest")"
			return
		fi
		mkdir -p "$(dirname "$dest")"
		install -m "$mode" "$rendered" "$dest"
		printf 'created    %s\n' "$(show "$dest")"
		return
	fi
	backup="$dest.before-switchboard"
	if [ -e "$backup" ]; then
		backup="$backup.$(date +%Y%m%d%H%M%S)"
	fi
	if [ "$dry_run" -eq 1 ]; then
		printf 'would update  %s (keeping the old one as %s)\n' "$(show "$dest")" "$(show "$backup")"
		return
	fi
	cp -p "$dest" "$backup"
	# Rewrite in place: the file keeps its owner and group (FusionPBX's config.conf must stay
	# readable by the web server).
	cat "$rendered" >"$dest"
	chmod "$mode" "$dest"
	printf 'updated    %s (old one kept as %s)\n' "$(show "$dest")" "$(show "$backup")"
}

# copy_conf RELATIVE_PATH: install a file of conf/ at the same place under the prefix.
copy_conf() {
	local rel=$1 rendered="$tmp_dir/${1//\//_}"
	if [ "$fusionpbx" -eq 1 ] && [ "$rel" = autoload_configs/event_socket.conf.xml ]; then
		# FusionPBX keeps ACLs in its database and has no "switchboard" list: an ACL that does
		# not exist rejects everyone, FusionPBX included. Use the built-in loopback list.
		sed 's/name="apply-inbound-acl" value="switchboard"/name="apply-inbound-acl" value="loopback.auto"/' \
			"$src_conf/$rel" >"$rendered"
	else
		cp "$src_conf/$rel" "$rendered"
	fi
	install_file "$rendered" "$prefix/$rel" 644
}

# set_line FILE LINE PATTERN [private]: make FILE contain LINE in place of the line matching
# PATTERN (appended when there is none). Used for SB_ESL_PASSWORD and FusionPBX's config.conf.
# "private" also takes away the permissions of others on an existing file: it holds a password.
set_line() {
	local file=$1 line=$2 pattern=$3 private=${4:-} rendered="$tmp_dir/line" mode
	if [ -f "$file" ]; then
		mode=$(mode_of "$file")
		if [ "$private" = private ]; then
			mode=$(printf '%o' $((8#$mode & 8#770)))
		fi
		if grep -q -- "$pattern" "$file"; then
			# Through the environment: awk -v would interpret backslashes in the values.
			PAT=$pattern LINE=$line awk '$0 ~ ENVIRON["PAT"] { print ENVIRON["LINE"]; next } { print }' "$file" >"$rendered"
		else
			cat "$file" >"$rendered"
			printf '%s\n' "$line" >>"$rendered"
		fi
		install_file "$rendered" "$file" "$mode"
	else
		printf '%s\n' "$line" >"$rendered"
		install_file "$rendered" "$file" 600
	fi
}

if [ "$fusionpbx" -eq 1 ]; then
	echo "FreeSWITCH configuration: $prefix (FusionPBX)"
else
	echo "FreeSWITCH configuration: $prefix"
fi
if [ "$dry_run" -eq 1 ]; then
	echo "Dry run: nothing is written."
fi

# 1. Event Socket password, kept across runs unless a new one is given.
secret="$prefix/switchboard/esl-password.xml"
previous=
if [ -f "$secret" ]; then
	previous=$(sed -n 's/.*data="switchboard_esl_password=\([^"]*\)".*/\1/p' "$secret" | head -n 1)
fi
if [ -z "$esl_password" ]; then
	if [ -n "$previous" ] && password_ok "$previous"; then
		esl_password=$previous
	else
		esl_password=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
		if [ "$dry_run" -eq 1 ]; then
			echo "would generate  a new Event Socket password"
		else
			echo "generated  a new Event Socket password (not printed)"
		fi
	fi
fi
{
	echo '<include>'
	echo '  <!-- Written by freeswitch-conf/install.sh: the Event Socket password, read by'
	echo '       autoload_configs/event_socket.conf.xml. Switchboard needs the same value in'
	echo '       SB_ESL_PASSWORD. Keep this file private. -->'
	echo "  <X-PRE-PROCESS cmd=\"set\" data=\"switchboard_esl_password=$esl_password\"/>"
	echo '</include>'
} >"$tmp_dir/esl-password.xml"
install_file "$tmp_dir/esl-password.xml" "$secret" 640
if [ "$dry_run" -eq 0 ]; then
	# Readable by FreeSWITCH: give it the group of the configuration directory.
	chgrp "$(stat -c '%g' "$prefix")" "$secret" 2>/dev/null || true
fi

# 2. Event Socket on loopback, reading that password.
copy_conf autoload_configs/event_socket.conf.xml

# 3. Plain FreeSWITCH: ACLs, dialplan hooks and, on request, SIP profiles.
if [ "$fusionpbx" -eq 0 ]; then
	copy_conf autoload_configs/acl.conf.xml
	copy_conf dialplan/default/00_switchboard.xml
	copy_conf dialplan/public/00_switchboard.xml
	if [ "$sip_profiles" -eq 1 ]; then
		copy_conf sip_profiles/internal.xml
		copy_conf sip_profiles/external.xml
	fi
fi

# 4. FusionPBX reads the Event Socket password from its own settings file.
if [ "$fusionpbx" -eq 1 ]; then
	if [ -f "$fusionpbx_config" ]; then
		set_line "$fusionpbx_config" "switch.event_socket.password = $esl_password" '^switch\.event_socket\.password[[:space:]]*='
	else
		echo "note       $fusionpbx_config not found: set the Event Socket password in FusionPBX"
		echo "           (Advanced > Default Settings, or event_socket.password in older releases)"
	fi
fi

# 5. Switchboard's own environment file.
if [ -n "$env_file" ]; then
	set_line "$env_file" "SB_ESL_PASSWORD=$esl_password" '^SB_ESL_PASSWORD=' private
fi

# 6. fail2ban.
if [ -n "$fail2ban_dir" ]; then
	for f in "$src_fail2ban"/filter.d/*.conf "$src_fail2ban"/jail.d/*.conf; do
		install_file "$f" "$fail2ban_dir/$(basename "$(dirname "$f")")/$(basename "$f")" 644
	done
fi

echo
if [ "$dry_run" -eq 1 ]; then
	echo "Dry run: $changed file(s) would change."
	exit 0
fi
echo "$changed file(s) changed."

# Warnings about what this script does not change.
internal="$prefix/sip_profiles/internal.xml"
if [ "$fusionpbx" -eq 0 ] && [ -f "$internal" ] && ! grep -q 'name="log-auth-failures" value="true"' "$internal"; then
	echo "warning    sip_profiles/internal.xml does not set log-auth-failures=true: fail2ban will see"
	echo "           no failures. Use --sip-profiles or set it by hand (README, \"SIP and NAT\")."
fi

if [ "$changed" -gt 0 ]; then
	cat <<TXT

Next steps:
  - FreeSWITCH: fs_cli -x reloadxml && fs_cli -x reloadacl, then restart FreeSWITCH (or
    fs_cli -x 'reload mod_event_socket', which drops fs_cli itself) to apply the Event Socket.
  - Check: fs_cli -p ClueCon -x status must now be refused.
TXT
	if [ -z "$env_file" ]; then
		echo "  - Switchboard: set SB_ESL_PASSWORD to the value in $secret:"
		printf '    grep -o %s %s | cut -d= -f2\n' "'switchboard_esl_password=[^\"]*'" "$secret"
	fi
	if [ "$fusionpbx" -eq 1 ]; then
		cat <<'TXT'
  - FusionPBX web UI (see README, "FusionPBX"):
      Dialplan > Dialplan Manager: add the hook from fusionpbx/dialplan-switchboard.xml
        (context = the domain name);
      Advanced > SIP Profiles: log-auth-failures=true, inbound-reg-force-matching-username=true,
        auth-calls=true on internal; ext-rtp-ip/ext-sip-ip for NAT;
      Advanced > Access Controls: a "trunks" list with your carriers' addresses.
TXT
	fi
fi
