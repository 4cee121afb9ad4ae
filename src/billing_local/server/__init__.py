"""`billing up`: the stack as a local server for real clients, with a test clock (CONTRACT §6).

- `up`: the command. Binds 127.0.0.1 first (a busy port fails at once), stands the template up
  with `billing_local.stack.local_cloud`, serves, prints the export lines, stops on SIGINT/SIGTERM.
- `runtime`: `StackRuntime`, the LocalCloud behind one lock; Lambda's pollers in a thread; the test
  clock (`advance_to`: due schedules in order, the queues settled after each); `--chaos` faults.
- `app`: the WSGI app. Private `/_billing/` routes, then the stack's Lambda and CloudFormation
  answers, then moto's server on the very in-memory backends the emulator uses.
- `lambda_api`, `cloudformation_api`: Invoke, GetFunction(Configuration), ListFunctions for the
  stack's functions (in-process handlers); DescribeStacks, DescribeStackResource(s),
  ListStackResources.
- `client`: the CLI's side (stdlib urllib): `billing clock`, and where `--endpoint-url`'s stack is.
- `commands`: the `up` and `clock` subcommands. `times`, `http`, `errors`: instants and
  durations, replies, the one-line error.
"""
