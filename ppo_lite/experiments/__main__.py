import sys

from . import available, run

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: python -m ppo_lite.experiments NAME [options]\nexperiments: " + ", ".join(available()))
        sys.exit(0)
    sys.exit(run(sys.argv[1], sys.argv[2:]))
