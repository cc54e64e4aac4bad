# Stand-in for ansible-test's get-pip bootstrap script: its download host is not reachable from
# these machines (only PyPI is). Bootstrap pip with the interpreter's own ensurepip, then let pip
# install the packages ansible-test asked for (pinned by ansible-test) from PyPI.
import runpy
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
