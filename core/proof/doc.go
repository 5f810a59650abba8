// Package proof holds what an identity proofing proved about a member:
// the method (password letter, electronic ID card), the level it reaches,
// the attributes it verified and the evidence; a proofing by redirect
// while it waits for the service's answer (Pending); and the rule that
// compares verified attributes with the insurer's record (Compare). Proofing
// methods sit behind ports/proofing; core stores their proofs with the
// account and derives acr and verified claims from them.
//
// Layer: core domain. Imports: standard library, core/kvnr, core/loa, core/member.
package proof
