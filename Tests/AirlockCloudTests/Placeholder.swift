import AirlockCloud
import AirlockPolicy
import Testing

@Suite struct APICallTests {
    @Test func summaryNamesOperationResourceAndRegion() {
        let call = APICall(provider: "aws", service: "cloudformation", operation: "DeleteStack", region: "us-east-1",
                           resources: ["stack/prod-env"])
        #expect(call.summary == "aws cloudformation DeleteStack stack/prod-env in us-east-1")
        let request = APIRequest(method: "GET", host: "h", target: "/a%2Fb?x=1&y", headers: [("Host", "h")])
        #expect(request.rawPath == "/a%2Fb")
        #expect(request.rawQuery == "x=1&y")
        #expect(request.values("host") == ["h"])
    }
}
