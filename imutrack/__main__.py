import sys

from imutrack.cli import main

sys.exit(main())
