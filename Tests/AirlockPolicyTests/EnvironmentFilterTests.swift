import Testing

@testable import AirlockPolicy

@Suite struct EnvironmentFilterTests {
    let profile: Profile = {
        var p = Profile()
        p.envDrop = ["*TOKEN*", "AWS_*"]
        p.envPass = ["GH_TOKEN", "AWS_REGION*"]
        p.envSet = ["AIRLOCK": "1", "GITHUB_TOKEN": "placeholder"]
        return p
    }()

    @Test func dropMatchesAreRemovedUnlessPassed() {
        let env = ["PATH": "/bin", "GITHUB_TOKEN": "s", "GH_TOKEN": "g", "AWS_SECRET_ACCESS_KEY": "k",
                   "AWS_REGION": "eu", "AWS_REGION_DEFAULT": "eu"]
        let result = EnvironmentFilter.filter(env, profile: profile, extraPass: [])
        #expect(result == ["PATH": "/bin", "GH_TOKEN": "g", "AWS_REGION": "eu", "AWS_REGION_DEFAULT": "eu",
                           "AIRLOCK": "1", "GITHUB_TOKEN": "placeholder"])
    }

    @Test func extraPassWorksLikeThePassList() {
        let env = ["NPM_TOKEN": "n", "AWS_PROFILE": "p"]
        let result = EnvironmentFilter.filter(env, profile: profile, extraPass: ["NPM_TOKEN", "AWS_P*"])
        #expect(result["NPM_TOKEN"] == "n")
        #expect(result["AWS_PROFILE"] == "p")
    }

    @Test func setIsAppliedAfterDroppingAndOverridesTheOperator() {
        let result = EnvironmentFilter.filter(["AIRLOCK": "0"], profile: profile, extraPass: [])
        #expect(result["AIRLOCK"] == "1")
    }

    @Test func namesAreCaseSensitive() {
        let result = EnvironmentFilter.filter(["github_token": "t"], profile: profile, extraPass: [])
        #expect(result["github_token"] == "t")
    }
}
