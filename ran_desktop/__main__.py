from ran_desktop.app import main

raise SystemExit(main())
