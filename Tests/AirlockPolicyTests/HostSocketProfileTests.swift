import Testing

@testable import AirlockPolicy

/// `[sandbox] host_sockets`, where host daemons' sockets are looked for, and their variables.
@Suite struct HostSocketProfileTests {
    @Test("host_sockets takes the daemons' names, merges from the parent and prints back equal")
    func loadsMergesAndPrints() throws {
        let dir = ProfileDirectory()
        dir.write("base.toml", "[sandbox]\nhost_sockets = [\"docker\", \"ssh-agent\"]\n")
        let child = dir.write("child.toml", "extends = \"base\"\n[sandbox]\nhost_sockets = [\"dbus\", \"docker\", \"dbus\"]\n")
        let profile = try dir.loader.load(child)
        #expect(profile.hostSockets == [.docker, .sshAgent, .dbus])
        #expect(profile.toTOML().contains("\nhost_sockets = [\"docker\", \"ssh-agent\", \"dbus\"]\n"), "\(profile.toTOML())")
        let shown = try dir.loader.load(dir.write("shown.toml", profile.toTOML()))
        #expect(shown.hostSockets == profile.hostSockets)
    }

    @Test("No host socket is exposed by default, nor by any shipped profile", arguments: shippedProfileNames)
    func noneByDefault(name: String) throws {
        #expect(Profile().hostSockets.isEmpty)
        #expect(try shippedLoader.load(name).hostSockets.isEmpty)
        #expect(Profile().toTOML().contains("\nhost_sockets = []\n"))
    }

    @Test("An unknown daemon is a one-line error naming the file, line, key and the names there are")
    func unknownName() throws {
        let error = try #require(loadError("# sockets\n[sandbox]\nhost_sockets = [\"docker\", \"ssh_agent\"]\n"))
        #expect(error.line == 3 && error.key == "sandbox.host_sockets", "\(error)")
        #expect(error.description == "\(error.file):3: sandbox.host_sockets: expected names among docker, containerd, podman, ssh-agent, dbus, got \"ssh_agent\"",
                "\(error)")
        #expect(!error.description.contains("\n"))
    }

    @Test("host_sockets must be an array of strings", arguments: ["host_sockets = \"docker\"", "host_sockets = [1]", "host_sockets = true"])
    func wrongType(line: String) throws {
        let error = try #require(loadError("[sandbox]\n\(line)\n"))
        #expect(error.line == 2 && error.key == "sandbox.host_sockets", "\(error)")
        #expect(error.message.contains("expected an array of strings"), "\(error)")
    }

    // MARK: - Where the sockets are

    func paths(_ daemon: HostSocket, _ env: [String: String], uid: UInt32 = 1000) -> [String] {
        daemon.locations(environment: env, uid: uid).map(\.path)
    }

    @Test("Without variables, the usual places are looked at, /run/user/UID standing for XDG_RUNTIME_DIR")
    func usualPlaces() {
        #expect(paths(.docker, [:]) == ["/var/run/docker.sock", "/run/docker.sock", "/run/user/1000/docker.sock"])
        #expect(paths(.containerd, [:]) == ["/run/containerd"])
        #expect(paths(.podman, [:]) == ["/run/podman/podman.sock", "/run/user/1000/podman/podman.sock"])
        #expect(paths(.sshAgent, [:]) == [])
        #expect(paths(.dbus, [:], uid: 0) == ["/run/user/0/bus", "/run/user/0/systemd/private"])
    }

    @Test("The variables add what they name, and XDG_RUNTIME_DIR adds its own places")
    func namedByVariables() {
        let env = [
            "XDG_RUNTIME_DIR": "/tmp/rt",
            "DOCKER_HOST": "unix:///srv/d.sock",
            "CONTAINERD_ADDRESS": "/srv/containerd.sock",
            "CONTAINER_HOST": "unix:///srv/podman.sock",
            "SSH_AUTH_SOCK": "/tmp/ssh-abc/agent.42",
            "DBUS_SESSION_BUS_ADDRESS": "unix:path=/srv/my%20bus,guid=0123;unix:abstract=/tmp/dbus-x;unix:runtime=yes",
        ]
        #expect(paths(.docker, env) == ["/var/run/docker.sock", "/run/docker.sock", "/tmp/rt/docker.sock",
                                        "/run/user/1000/docker.sock", "/srv/d.sock"])
        #expect(paths(.containerd, env) == ["/run/containerd", "/srv/containerd.sock"])
        #expect(paths(.podman, env) == ["/run/podman/podman.sock", "/tmp/rt/podman/podman.sock",
                                        "/run/user/1000/podman/podman.sock", "/srv/podman.sock"])
        #expect(paths(.sshAgent, env) == ["/tmp/ssh-abc/agent.42"])
        #expect(paths(.dbus, env) == ["/tmp/rt/bus", "/tmp/rt/systemd/private", "/run/user/1000/bus",
                                      "/run/user/1000/systemd/private", "/srv/my bus", "/tmp/rt/bus"])
        #expect(daemonOrigins(env).contains("SSH_AUTH_SOCK"))
    }

    func daemonOrigins(_ env: [String: String]) -> [String] {
        HostSocket.allCases.flatMap { $0.locations(environment: env, uid: 1000) }.map(\.origin)
    }

    @Test("Remote daemons and relative paths name no socket file",
          arguments: [["DOCKER_HOST": "tcp://10.0.0.1:2376"], ["DOCKER_HOST": "ssh://me@host"], ["CONTAINER_HOST": "ssh://h/run/podman.sock"],
                      ["SSH_AUTH_SOCK": "agent.sock"], ["DBUS_SESSION_BUS_ADDRESS": "unix:abstract=/tmp/dbus-x,guid=1"],
                      ["DBUS_SESSION_BUS_ADDRESS": "tcp:host=localhost,port=1"], ["XDG_RUNTIME_DIR": "run"]])
    func remoteOrRelative(env: [String: String]) {
        #expect(HostSocket.allCases.flatMap { $0.locations(environment: env, uid: 7) }.allSatisfy { $0.origin == "a usual place" })
    }

    // MARK: - Their variables

    static let daemonVariables = [
        "SSH_AUTH_SOCK": "/tmp/ssh-abc/agent.42", "SSH_AGENT_PID": "42",
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
        "DOCKER_HOST": "unix:///var/run/docker.sock", "CONTAINER_HOST": "unix:///run/podman/podman.sock",
        "CONTAINERD_ADDRESS": "/run/containerd/containerd.sock",
    ]

    @Test("The variables pointing at the daemons' sockets are dropped, even when passed; remote daemons' stay")
    func variablesDropped() {
        var profile = Profile()
        profile.envPass = ["SSH_AUTH_SOCK"]
        let env = Self.daemonVariables.merging(["PATH": "/bin", "XDG_RUNTIME_DIR": "/run/user/1000"]) { a, _ in a }
        #expect(EnvironmentFilter.filter(env, profile: profile, extraPass: ["DOCKER_HOST", "DBUS_*"])
                == ["PATH": "/bin", "XDG_RUNTIME_DIR": "/run/user/1000"])
        let remote = ["DOCKER_HOST": "tcp://10.0.0.1:2376", "CONTAINER_HOST": "ssh://me@host/run/podman/podman.sock"]
        #expect(EnvironmentFilter.filter(remote, profile: profile, extraPass: []) == remote)
    }

    @Test("An exposed daemon keeps its variables; the profile's set still wins")
    func exposedKeepsVariables() {
        var profile = Profile()
        profile.hostSockets = [.sshAgent, .docker]
        profile.envSet = ["DBUS_SESSION_BUS_ADDRESS": "unix:path=/workspace/bus"]
        let result = EnvironmentFilter.filter(Self.daemonVariables, profile: profile, extraPass: [])
        #expect(result == ["SSH_AUTH_SOCK": "/tmp/ssh-abc/agent.42", "SSH_AGENT_PID": "42",
                           "DOCKER_HOST": "unix:///var/run/docker.sock", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/workspace/bus"])
        profile.hostSockets = HostSocket.allCases
        profile.envSet = [:]
        #expect(EnvironmentFilter.filter(Self.daemonVariables, profile: profile, extraPass: []) == Self.daemonVariables)
    }
}
