from dispatch.cli.main import main

raise SystemExit(main())
