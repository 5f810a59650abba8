package fault

// Code is the stable, machine-readable name of what happened ("pin.wrong"):
// API clients get it beside the text, and it is the key of the text for
// people in the message catalog (package catalog), in German and English.
// Core returns codes and parameters, never words.
//
// Codes are constants of this type next to the rule that returns them, each
// with a comment naming its parameters in order. A test finds every
// constant of type Code in the module and fails when the catalog lacks its
// German or English text. A code keeps its meaning for as long as it exists:
// clients switch on it.
type Code string
