from ensync_tui.cli import main

raise SystemExit(main())
