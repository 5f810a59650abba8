package proof

// decomposed is the canonical decomposition (Unicode NFD) of the
// precomposed Latin letters that survive upper-casing, from Latin-1
// Supplement, Latin Extended-A and -B, Latin Extended Additional and
// the two Latin letter-like symbols:
// "É" is "E" followed by U+0301 COMBINING ACUTE ACCENT.
//
// Why a table: core imports only the standard library and x/crypto, and
// the standard library has no Unicode normalisation. Names on German
// identity documents and in the insurer's master data are written in
// Latin letters (others are transliterated), so decomposing these letters
// makes a precomposed and a decomposed spelling of the same name equal,
// which is what NFC (or NFD) normalisation would do for them. The table
// was produced from golang.org/x/text/unicode/norm; the eID adapter's
// tests check core's matching against that package for every letter.
var decomposed = map[rune]string{
	0x00C0: "A\u0300", 0x00C1: "A\u0301", 0x00C2: "A\u0302", 0x00C3: "A\u0303", 0x00C4: "A\u0308",
	0x00C5: "A\u030a", 0x00C7: "C\u0327", 0x00C8: "E\u0300", 0x00C9: "E\u0301", 0x00CA: "E\u0302",
	0x00CB: "E\u0308", 0x00CC: "I\u0300", 0x00CD: "I\u0301", 0x00CE: "I\u0302", 0x00CF: "I\u0308",
	0x00D1: "N\u0303", 0x00D2: "O\u0300", 0x00D3: "O\u0301", 0x00D4: "O\u0302", 0x00D5: "O\u0303",
	0x00D6: "O\u0308", 0x00D9: "U\u0300", 0x00DA: "U\u0301", 0x00DB: "U\u0302", 0x00DC: "U\u0308",
	0x00DD: "Y\u0301", 0x0100: "A\u0304", 0x0102: "A\u0306", 0x0104: "A\u0328", 0x0106: "C\u0301",
	0x0108: "C\u0302", 0x010A: "C\u0307", 0x010C: "C\u030c", 0x010E: "D\u030c", 0x0112: "E\u0304",
	0x0114: "E\u0306", 0x0116: "E\u0307", 0x0118: "E\u0328", 0x011A: "E\u030c", 0x011C: "G\u0302",
	0x011E: "G\u0306", 0x0120: "G\u0307", 0x0122: "G\u0327", 0x0124: "H\u0302", 0x0128: "I\u0303",
	0x012A: "I\u0304", 0x012C: "I\u0306", 0x012E: "I\u0328", 0x0130: "I\u0307", 0x0134: "J\u0302",
	0x0136: "K\u0327", 0x0139: "L\u0301", 0x013B: "L\u0327", 0x013D: "L\u030c", 0x0143: "N\u0301",
	0x0145: "N\u0327", 0x0147: "N\u030c", 0x014C: "O\u0304", 0x014E: "O\u0306", 0x0150: "O\u030b",
	0x0154: "R\u0301", 0x0156: "R\u0327", 0x0158: "R\u030c", 0x015A: "S\u0301", 0x015C: "S\u0302",
	0x015E: "S\u0327", 0x0160: "S\u030c", 0x0162: "T\u0327", 0x0164: "T\u030c", 0x0168: "U\u0303",
	0x016A: "U\u0304", 0x016C: "U\u0306", 0x016E: "U\u030a", 0x0170: "U\u030b", 0x0172: "U\u0328",
	0x0174: "W\u0302", 0x0176: "Y\u0302", 0x0178: "Y\u0308", 0x0179: "Z\u0301", 0x017B: "Z\u0307",
	0x017D: "Z\u030c", 0x01A0: "O\u031b", 0x01AF: "U\u031b", 0x01CD: "A\u030c", 0x01CF: "I\u030c",
	0x01D1: "O\u030c", 0x01D3: "U\u030c", 0x01D5: "U\u0308\u0304", 0x01D7: "U\u0308\u0301", 0x01D9: "U\u0308\u030c",
	0x01DB: "U\u0308\u0300", 0x01DE: "A\u0308\u0304", 0x01E0: "A\u0307\u0304", 0x01E2: "\u00c6\u0304", 0x01E6: "G\u030c",
	0x01E8: "K\u030c", 0x01EA: "O\u0328", 0x01EC: "O\u0328\u0304", 0x01EE: "\u01b7\u030c", 0x01F0: "j\u030c",
	0x01F4: "G\u0301", 0x01F8: "N\u0300", 0x01FA: "A\u030a\u0301", 0x01FC: "\u00c6\u0301", 0x01FE: "\u00d8\u0301",
	0x0200: "A\u030f", 0x0202: "A\u0311", 0x0204: "E\u030f", 0x0206: "E\u0311", 0x0208: "I\u030f",
	0x020A: "I\u0311", 0x020C: "O\u030f", 0x020E: "O\u0311", 0x0210: "R\u030f", 0x0212: "R\u0311",
	0x0214: "U\u030f", 0x0216: "U\u0311", 0x0218: "S\u0326", 0x021A: "T\u0326", 0x021E: "H\u030c",
	0x0226: "A\u0307", 0x0228: "E\u0327", 0x022A: "O\u0308\u0304", 0x022C: "O\u0303\u0304", 0x022E: "O\u0307",
	0x0230: "O\u0307\u0304", 0x0232: "Y\u0304", 0x1E00: "A\u0325", 0x1E02: "B\u0307", 0x1E04: "B\u0323",
	0x1E06: "B\u0331", 0x1E08: "C\u0327\u0301", 0x1E0A: "D\u0307", 0x1E0C: "D\u0323", 0x1E0E: "D\u0331",
	0x1E10: "D\u0327", 0x1E12: "D\u032d", 0x1E14: "E\u0304\u0300", 0x1E16: "E\u0304\u0301", 0x1E18: "E\u032d",
	0x1E1A: "E\u0330", 0x1E1C: "E\u0327\u0306", 0x1E1E: "F\u0307", 0x1E20: "G\u0304", 0x1E22: "H\u0307",
	0x1E24: "H\u0323", 0x1E26: "H\u0308", 0x1E28: "H\u0327", 0x1E2A: "H\u032e", 0x1E2C: "I\u0330",
	0x1E2E: "I\u0308\u0301", 0x1E30: "K\u0301", 0x1E32: "K\u0323", 0x1E34: "K\u0331", 0x1E36: "L\u0323",
	0x1E38: "L\u0323\u0304", 0x1E3A: "L\u0331", 0x1E3C: "L\u032d", 0x1E3E: "M\u0301", 0x1E40: "M\u0307",
	0x1E42: "M\u0323", 0x1E44: "N\u0307", 0x1E46: "N\u0323", 0x1E48: "N\u0331", 0x1E4A: "N\u032d",
	0x1E4C: "O\u0303\u0301", 0x1E4E: "O\u0303\u0308", 0x1E50: "O\u0304\u0300", 0x1E52: "O\u0304\u0301", 0x1E54: "P\u0301",
	0x1E56: "P\u0307", 0x1E58: "R\u0307", 0x1E5A: "R\u0323", 0x1E5C: "R\u0323\u0304", 0x1E5E: "R\u0331",
	0x1E60: "S\u0307", 0x1E62: "S\u0323", 0x1E64: "S\u0301\u0307", 0x1E66: "S\u030c\u0307", 0x1E68: "S\u0323\u0307",
	0x1E6A: "T\u0307", 0x1E6C: "T\u0323", 0x1E6E: "T\u0331", 0x1E70: "T\u032d", 0x1E72: "U\u0324",
	0x1E74: "U\u0330", 0x1E76: "U\u032d", 0x1E78: "U\u0303\u0301", 0x1E7A: "U\u0304\u0308", 0x1E7C: "V\u0303",
	0x1E7E: "V\u0323", 0x1E80: "W\u0300", 0x1E82: "W\u0301", 0x1E84: "W\u0308", 0x1E86: "W\u0307",
	0x1E88: "W\u0323", 0x1E8A: "X\u0307", 0x1E8C: "X\u0308", 0x1E8E: "Y\u0307", 0x1E90: "Z\u0302",
	0x1E92: "Z\u0323", 0x1E94: "Z\u0331", 0x1E96: "h\u0331", 0x1E97: "t\u0308", 0x1E98: "w\u030a",
	0x1E99: "y\u030a", 0x1EA0: "A\u0323", 0x1EA2: "A\u0309", 0x1EA4: "A\u0302\u0301", 0x1EA6: "A\u0302\u0300",
	0x1EA8: "A\u0302\u0309", 0x1EAA: "A\u0302\u0303", 0x1EAC: "A\u0323\u0302", 0x1EAE: "A\u0306\u0301", 0x1EB0: "A\u0306\u0300",
	0x1EB2: "A\u0306\u0309", 0x1EB4: "A\u0306\u0303", 0x1EB6: "A\u0323\u0306", 0x1EB8: "E\u0323", 0x1EBA: "E\u0309",
	0x1EBC: "E\u0303", 0x1EBE: "E\u0302\u0301", 0x1EC0: "E\u0302\u0300", 0x1EC2: "E\u0302\u0309", 0x1EC4: "E\u0302\u0303",
	0x1EC6: "E\u0323\u0302", 0x1EC8: "I\u0309", 0x1ECA: "I\u0323", 0x1ECC: "O\u0323", 0x1ECE: "O\u0309",
	0x1ED0: "O\u0302\u0301", 0x1ED2: "O\u0302\u0300", 0x1ED4: "O\u0302\u0309", 0x1ED6: "O\u0302\u0303", 0x1ED8: "O\u0323\u0302",
	0x1EDA: "O\u031b\u0301", 0x1EDC: "O\u031b\u0300", 0x1EDE: "O\u031b\u0309", 0x1EE0: "O\u031b\u0303", 0x1EE2: "O\u031b\u0323",
	0x1EE4: "U\u0323", 0x1EE6: "U\u0309", 0x1EE8: "U\u031b\u0301", 0x1EEA: "U\u031b\u0300", 0x1EEC: "U\u031b\u0309",
	0x1EEE: "U\u031b\u0303", 0x1EF0: "U\u031b\u0323", 0x1EF2: "Y\u0300", 0x1EF4: "Y\u0323", 0x1EF6: "Y\u0309",
	0x1EF8: "Y\u0303",
	// KELVIN SIGN and ANGSTROM SIGN, letters by Unicode's reckoning.
	0x212A: "K", 0x212B: "A\u030a",
}
