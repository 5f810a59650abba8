package strength

import "strings"

// germanWords are words German speakers build passwords from, roughly most
// frequent first (zxcvbn ranks a word by its position). Umlaut spellings
// are added by variants. The list is short on purpose: it covers what
// zxcvbn's English lists lack, not the German language.
var germanWords = strings.Fields(`
passwort kennwort geheim hallo schatz schatzi liebe ichliebedich liebling
sommer winter herbst frühling sonne mond sterne stern
januar februar märz april mai juni juli august september oktober november dezember
montag dienstag mittwoch donnerstag freitag samstag sonntag wochenende
qwertz qwertzu qwertzui qwertzuiop asdfgh asdfghjkl yxcvbnm ysxdcfvgbhnjmk
mausi maus hase hasi schnucki bärchen spatz engel teufel prinzessin
fußball fussball bayern schalke borussia dortmund werder eintracht hertha
bremen hamburg berlin münchen köln frankfurt stuttgart düsseldorf hannover leipzig
dresden nürnberg deutschland germany
krankenkasse kasse versicherung gesundheit hkk service serviceapp
willkommen anmelden zugang benutzer konto sicher sicherheit
mama papa oma opa mutter vater tochter sohn kinder familie freund freundin
katze kater hund hündchen pferd blume blumen baum haus auto
urlaub weihnachten ostern geburtstag glück zukunft leben frieden freiheit
himmel hölle schwarz weiss weiß rot blau grün gelb
schule arbeit computer internet handy telefon
michael thomas andreas stefan christian peter wolfgang klaus jürgen frank
bernd uwe dieter günter hans markus matthias sebastian alexander daniel
tobias florian jan tim lukas leon paul felix jonas maximilian
ursula sabine petra monika andrea claudia susanne nicole stefanie julia
anna lena laura sarah lisa marie sophie emma mia hannah lea katharina
müller schmidt schneider fischer weber meyer meier wagner becker schulz
hoffmann schäfer koch bauer richter klein wolf schröder neumann schwarz
zimmermann braun krüger hofmann hartmann lange schmitt werner krause
`)
