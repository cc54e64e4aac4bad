#!/usr/bin/env bash
# ansible-test sanity for the collection, with the (empty) ignore files under tests/sanity/.
# ansible-test needs the tree at ansible_collections/<ns>/<name>: copy the files git knows
# (tracked, or new and not ignored) there and run it in its own venvs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/.cache/ansible-test/ansible_collections/sanboot/lab"
rm -rf "$dest" && mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | \
  xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' | rsync -a --from0 --files-from=- ./ "$dest/")
cd "$dest"
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exec ansible-test sanity --venv --python "$py" --color no "$@"
