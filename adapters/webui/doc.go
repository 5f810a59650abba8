// Package webui serves the server-rendered pages a member sees in a
// browser: today the login page of the authorization code flow. It asks
// core/login which steps a login needs and hands the result to core/authz;
// it decides nothing itself.
//
// Layer: adapter. Imports: core, ports, standard library; never another adapter.
package webui
