// Package cluster holds no code: its tests and benchmarks run three
// natsauth nodes (node.New, in process) as one nats-server cluster on
// loopback, sharing one PostgreSQL account store, and show that a change
// made by any write path — the store (what the CLI does), a
// $SYS.REQ.CLAIMS.UPDATE push to any node, a POST to an account server —
// is enforced on every node, and what happens when PostgreSQL goes away,
// a node restarts or a writer is killed with SIGKILL.
//
// The benchmark BenchmarkRevocationPropagation measures, in one run, how
// long a revocation takes to be enforced on the last of three natsauth
// nodes and on the last of three stock `full`-resolver nats-servers.
// docs/BENCHMARKS-propagation.md has the command and the results.
package cluster
