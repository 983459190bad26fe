package main

import "github.com/natsauth/natsauth/store"

// redactURL hides a password in a URL for output.
func redactURL(u string) string { return store.Redact(u) }
