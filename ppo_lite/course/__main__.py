"""``python -m ppo_lite.course``: open the course in JupyterLab (:mod:`ppo_lite.course.launcher`)."""
from .launcher import main

if __name__ == "__main__":
    raise SystemExit(main())
