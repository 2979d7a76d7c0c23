#!/usr/bin/env bash
# make upgrade FARGO=<release> [FROM=<release>]: merges a later fargo release
# into this copy (docs/upgrading.md). A release is <git URL or path>@<tag
# or branch>, or a ref or commit this repository already has.
#
# The release is checked out in a temporary worktree, renamed to this
# copy's module path with this copy's cmd/rename, and committed on the
# branch fargo-upstream, whose commits are fargo's releases as this copy
# names them; that branch is then merged. From the second upgrade on the
# merge base is the previous release so renamed, so only files that both
# fargo and you changed since can conflict. The first upgrade's base is
# the release you cloned (git finds it in your history), or FROM when your
# history holds none (a copy made without git clone).
#
# What you own is yours in a conflict: service/ (your app), cdk.context.json
# and stacks/testdata/deployment/ (your snapshots; make snapshots then shows
# what the release changes in them). Anything else that conflicts is left
# for you to resolve, then git commit.
set -euo pipefail

release_spec=$1
from_spec=${2:-}
user_owned=(service/ cdk.context.json stacks/testdata/deployment/)

die() {
	echo "make upgrade: $*" >&2
	exit 1
}

# resolve prints the commit of a release spec, fetching it if it names a
# repository.
resolve() {
	local spec=$1
	if [[ $spec == *@* && $spec != *@\{* ]]; then
		git fetch --quiet --no-tags "${spec%@*}" "${spec##*@}" || die "cannot fetch ${spec##*@} from ${spec%@*}"
		git rev-parse --verify 'FETCH_HEAD^{commit}'
	else
		git rev-parse --verify --quiet "$spec^{commit}" || die "no such release: $spec (want <git URL>@<tag>, or a ref you fetched)"
	fi
}

[ -z "$(git status --porcelain --untracked-files=no)" ] || die "commit or stash your changes first"
module=$(sed -n 's/^module[[:space:]]*//p' go.mod)
release=$(resolve "$release_spec")

tmp=$(mktemp -d)
cleanup() {
	git worktree remove --force "$tmp/tree" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/rename" ./cmd/rename

# renamed prints a commit of release's tree with this copy's module path,
# with the given parents.
renamed() {
	local commit=$1 message=$2
	shift 2
	git worktree add --quiet --detach "$tmp/tree" "$commit"
	(cd "$tmp/tree" && "$tmp/rename" "$module" >/dev/null && git add -A)
	local tree
	tree=$(git -C "$tmp/tree" write-tree)
	git worktree remove --force "$tmp/tree"
	git commit-tree "$tree" "$@" -m "$message"
}

if ! git rev-parse --verify --quiet refs/heads/fargo-upstream >/dev/null &&
	! git merge-base HEAD "$release" >/dev/null; then
	# No fargo commit in this history: record FROM, renamed, as what this
	# copy started from, without changing a file.
	[ -n "$from_spec" ] || die "your history holds no fargo release: run once with FROM=<the release you started from>, e.g. FROM=https://github.com/fargo-cdk/fargo@v1.0.0"
	base=$(renamed "$(resolve "$from_spec")" "fargo $from_spec as $module")
	git update-ref refs/heads/fargo-upstream "$base"
	git merge --quiet --no-edit --allow-unrelated-histories -s ours -m "Start from fargo $from_spec" fargo-upstream
fi

parents=(-p "$release")
if git rev-parse --verify --quiet refs/heads/fargo-upstream >/dev/null; then
	parents=(-p refs/heads/fargo-upstream "${parents[@]}")
fi
upstream=$(renamed "$release" "fargo $release_spec as $module" "${parents[@]}")
git update-ref refs/heads/fargo-upstream "$upstream"

if git merge --no-edit -m "Upgrade to fargo $release_spec" fargo-upstream; then
	exit 0
fi
# Keep your side of what you own.
while IFS= read -r -d '' path; do
	for owned in "${user_owned[@]}"; do
		[[ $path == "$owned"* ]] || continue
		if git cat-file -e "HEAD:$path" 2>/dev/null; then
			git checkout --quiet --ours -- "$path" && git add -- "$path"
		else
			git rm --quiet -- "$path"
		fi
		echo "make upgrade: kept your $path"
	done
done < <(git diff -z --name-only --diff-filter=U)
if [ -n "$(git diff --name-only --diff-filter=U)" ]; then
	echo "make upgrade: resolve these conflicts, then git commit:" >&2
	git diff --name-only --diff-filter=U >&2
	exit 1
fi
git commit --quiet --no-edit
echo "make upgrade: merged fargo $release_spec; run make snapshots to see what it changes in your stacks, then make test"
