package remoting

import "strconv"

// Language is RocketMQ's LanguageCode: the JSON header carries its name
// ("GO"), the ROCKETMQ header its number (9). The numbers are frozen.
type Language uint8

// Languages in LanguageCode.java order.
const (
	LanguageJava   Language = 0
	LanguageCPP    Language = 1
	LanguageDotNet Language = 2
	LanguagePython Language = 3
	LanguageDelphi Language = 4
	LanguageErlang Language = 5
	LanguageRuby   Language = 6
	LanguageOther  Language = 7
	LanguageHTTP   Language = 8
	LanguageGo     Language = 9
	LanguagePHP    Language = 10
	LanguageOMS    Language = 11
	LanguageRust   Language = 12
	LanguageNodeJS Language = 13
)

var languageNames = [...]string{
	LanguageJava:   "JAVA",
	LanguageCPP:    "CPP",
	LanguageDotNet: "DOTNET",
	LanguagePython: "PYTHON",
	LanguageDelphi: "DELPHI",
	LanguageErlang: "ERLANG",
	LanguageRuby:   "RUBY",
	LanguageOther:  "OTHER",
	LanguageHTTP:   "HTTP",
	LanguageGo:     "GO",
	LanguagePHP:    "PHP",
	LanguageOMS:    "OMS",
	LanguageRust:   "RUST",
	LanguageNodeJS: "NODE_JS",
}

// String returns the Java enum name ("GO"), or "Language(N)" for a number
// outside the table.
func (l Language) String() string {
	if int(l) < len(languageNames) {
		return languageNames[l]
	}
	return "Language(" + strconv.Itoa(int(l)) + ")"
}

// ParseLanguage returns the Language named name (the Java enum name, e.g.
// "JAVA", "GO"). ok is false for an unknown name.
func ParseLanguage(name string) (l Language, ok bool) {
	return parseLanguageBytes([]byte(name))
}

func parseLanguageBytes(name []byte) (Language, bool) {
	for i, n := range languageNames {
		if n == string(name) {
			return Language(i), true
		}
	}
	return LanguageOther, false
}
