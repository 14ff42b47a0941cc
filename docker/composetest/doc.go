// Package composetest runs the users' Docker flow for real: the product's
// docker/docker-compose.yml, with only its two server images replaced by
// local stand-ins (compose.test.yml), driven through the Compose CLI.
//
// The test is behind the build tag "compose" (it takes minutes and needs a
// Docker engine); run it with `make compose-test`. See README.md beside
// this file for what it builds, what it checks and how long it takes.
package composetest
