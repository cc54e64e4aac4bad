#!/usr/bin/env bash
# ansible-test sanity for the collection, with the (empty) ignore files under tests/sanity/.
# ansible-test needs the tree at ansible_collections/<ns>/<name> and outside any git work tree
# that ignores it: copy the files git knows (tracked, or new and not ignored) below SANITY_DIR.
# Its venvs are cached under SANITY_DIR/home (HOME for ansible-test), outside the work tree.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${SANITY_DIR:-/var/tmp/sanboot-sanity}
# one copy per checkout (two checkouts testing at once must not share it); the venvs are shared
tree="$work/trees/$(printf '%s' "$root" | md5sum | cut -c1-12)"
dest="$tree/ansible_collections/sanboot/lab"
rm -rf "$dest" && mkdir -p "$dest" "$work/home/.ansible/test/cache"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | \
  xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' | rsync -a --from0 --files-from=- ./ "$dest/")
pip_version=$(python3 - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
import sys
print(get_venv_packages(NativePythonConfig(version="%d.%d" % sys.version_info[:2], path=sys.executable))["pip"])
PY
)
cp "$root/tests/sanity/get_pip_standin.py" "$work/home/.ansible/test/cache/get_pip_${pip_version//./_}.py"
cd "$dest"
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
HOME="$work/home" exec ansible-test sanity --venv --python "$py" --color no "$@"
