// Package bench holds natsauth's side-by-side benchmarks against stock
// nats-server: the same operator, accounts and users served once by
// natsauth (embedded nats-server with natsauth's resolver over a store) and
// once by stock nats-server with its built-in resolvers, in the same run.
// Results and the commands that reproduce them are in docs/BENCHMARKS.md.
package bench
