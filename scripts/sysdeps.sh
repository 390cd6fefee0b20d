#!/usr/bin/env bash
# Checks the system packages livret needs, and installs them with apt-get when we can.
# Fast when all is there: `make` runs it every time.
#
#   scripts/sysdeps.sh build   what building needs: the libraries WeasyPrint loads at run time
#                              (it is pure Python on top of them). `make`, `make watch`.
#   scripts/sysdeps.sh test-fast  + poppler, which the tests read PDFs back with, and zbar-tools
#                              (a QR code read back): `make test-fast`.
#   scripts/sysdeps.sh test    + Chromium, Java, EPUBCheck and npm, for the browser, veraPDF,
#                              web and EPUB tests:
#                              `make test`, `make conformance`, CI.
set -u
mode=${1:-build}
case $mode in
build | test-fast | test) ;;
*)
    echo "usage: $0 build|test-fast|test" >&2
    exit 2
    ;;
esac
need=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib 'libpango-1.0.so.0' || need+=(libpango-1.0-0)
have_lib 'libpangoft2-1.0.so.0' || need+=(libpangoft2-1.0-0)
have_lib 'libharfbuzz-subset.so.0' || need+=(libharfbuzz-subset0)
have_lib 'libfontconfig.so.1' || need+=(libfontconfig1)
if [[ $mode != build ]]; then
    # poppler-utils: pdftoppm/pdftotext, to read back and look at what we print.
    command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
    # zbar-tools: zbarimg reads the press file's QR code back, as a phone would (tests/test_qr.py).
    command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
fi
if [[ $mode == test ]]; then
    # chromium + chromium-driver: the preview's tests drive a real browser (Debian's, no download).
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
    # Java + JAXB runtime: veraPDF, the PDF/UA-1 and PDF/A validator of the tests
    # (livret/conformance).
    command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
    [[ -f /usr/share/java/jaxb-runtime.jar ]] || need+=(libjaxb-java)
    # epubcheck: the EPUB's validator (tests/test_epub.py), run on the Java above.
    [[ -f /usr/share/java/epubcheck.jar ]] || need+=(epubcheck)
    # nodejs + npm: the web edition's and the EPUB's checkers (package.json: axe-core, the Nu
    # Html Checker, Ace by DAISY), installed by `make test` with npm ci, no browser download.
    command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
fi
((${#need[@]})) || exit 0

if [[ $mode == build ]]; then what="the system libraries WeasyPrint needs"; else what="the system packages the tests need"; fi
echo "livret: installing $what: ${need[*]}"
if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else sudo=(); fi
if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || ((${#sudo[@]})); }; then
    "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null && exit 0
fi
cat >&2 <<MSG
livret: cannot install $what: ${need[*]}
  On Debian/Ubuntu, run as root:  apt-get update && apt-get install -y ${need[*]}
  Elsewhere, see https://doc.courtbouillon.org/weasyprint/stable/first_steps.html
MSG
exit 1
