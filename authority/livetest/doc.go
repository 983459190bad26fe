// Package livetest proves the authority's account, user and sharing
// settings on a live embedded nats-server: its tests build a home with the
// authority package, serve it with the node package (operator mode, the
// home's accounts in a store, changes applied live) and connect real
// nats.go clients. It has no code of its own.
package livetest
