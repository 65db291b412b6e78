from mlgitops.cli import main

raise SystemExit(main())
