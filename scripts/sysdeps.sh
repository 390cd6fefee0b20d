#!/usr/bin/env bash
# Checks the system libraries WeasyPrint loads at run time (it is pure Python on top of them),
# and installs them with apt-get when we can. Fast when all is there: `make` runs it every time.
set -u
need=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libpango-1.0.so.0' || need+=(libpango-1.0-0)
have_lib 'libpangoft2-1.0.so.0' || need+=(libpangoft2-1.0-0)
have_lib 'libharfbuzz-subset.so.0' || need+=(libharfbuzz-subset0)
have_lib 'libfontconfig.so.1' || need+=(libfontconfig1)
# poppler-utils: pdftoppm/pdftotext, to look at and check what we print (README, benchmarks).
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
# chromium + chromium-driver: the preview's tests drive a real browser (Debian's, no download).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# Java + JAXB runtime: veraPDF, the PDF/UA-1 and PDF/A validator of the tests (livret/conformance).
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
[[ -f /usr/share/java/jaxb-runtime.jar ]] || need+=(libjaxb-java)
((${#need[@]})) || exit 0

echo "livret: installing system libraries for WeasyPrint: ${need[*]}"
if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else sudo=(); fi
if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || ((${#sudo[@]})); }; then
    "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null && exit 0
fi
cat >&2 <<MSG
livret: cannot install the system libraries WeasyPrint needs: ${need[*]}
  On Debian/Ubuntu, run as root:  apt-get update && apt-get install -y ${need[*]}
  Elsewhere, see https://doc.courtbouillon.org/weasyprint/stable/first_steps.html
MSG
exit 1
