import Testing

@testable import AirlockPolicy

/// The catalogue in profiles/default.toml, rule by rule: what each must hold, and the near misses
/// it must let run (dry runs, --help, read-only subcommands, the harmless form of the command).
@Suite struct ExecCatalogueTests {
    static let filesystem: [ExecCase] = [
        hits("rm -rf /", "recursive rm"),
        hits("rm -fr /work/ws", "recursive rm"),
        hits("rm -Rf .", "recursive rm"),
        hits("rm -r -f /home/agent", "recursive rm"),
        hits("rm --recursive /home/agent/", "recursive rm"),
        hits("rm -rf .git", "recursive rm"),
        hits("rm -r infra/prod.tfstate", "recursive rm"),
        hits("rm -rf /tmp/build", "recursive rm"),
        hits("rm -rf ../", "recursive rm"),
        hits("rm -rf src/../..", "recursive rm"),
        hits("/usr/bin/rm -rf /", "recursive rm"),
        hits("rm -rf build /", "recursive rm"),
        hits(["sh", "-c", "rm -rf *"], "recursive rm"),
        hits(["sh", "-c", "rm -rf ~"], "recursive rm"),
        misses("rm file.txt", "recursive rm"),
        misses("rm -f file.txt", "recursive rm"),
        misses("rm -rf build", "recursive rm"),
        misses("rm -rf node_modules dist/cache", "recursive rm"),
        misses("rm -rf /work/ws/target", "recursive rm"),
        misses("rm --help -rf /", "recursive rm"),
        misses("./my-rm -rf /", "recursive rm"),
        misses(["sh", "-c", "rm -rf build/*"], "recursive rm"),
        misses(["sh", "-c", "rm -rf '~'"], "recursive rm"),

        hits("rm -rf .git/objects", "recursive rm in .git"),
        hits("rm -r /work/ws/.git/refs/heads", "recursive rm in .git"),
        misses("rm -rf .github/workflows", "recursive rm in .git"),
        misses("rm .git/index.lock", "recursive rm in .git"),

        hits("find . -name *.pyc -delete", "find -delete"),
        misses("find . -name *.pyc", "find -delete"),
        misses("find . -name delete", "find -delete"),
        hits("find / -name core -exec rm -f {} ;", "find -exec rm"),
        hits("find . -type d -execdir /bin/rm -r {} +", "find -exec rm"),
        misses("find . -exec cat {} ;", "find -exec rm"),

        hits("rsync -a --delete src/ dst/", "rsync --delete"),
        hits("rsync -av --delete-after a b", "rsync --delete"),
        misses("rsync -avn --delete a b", "rsync --delete"),
        misses("rsync -a --dry-run --delete a b", "rsync --delete"),
        misses("rsync -a src/ dst/", "rsync --delete"),

        hits("shred -u secrets.txt", "shred"),
        misses("shred --help", "shred"),

        hits("truncate -s 0 app.log", "truncate to zero"),
        hits("truncate -s0 app.log", "truncate to zero"),
        hits("truncate --size=0 app.log", "truncate to zero"),
        misses("truncate -s 10M disk.img", "truncate to zero"),

        hits("dd if=/dev/zero of=/dev/sda bs=1M", "dd onto a file or device"),
        hits("dd if=backup.img of=disk.img", "dd onto a file or device"),
        misses("dd if=/dev/zero of=/dev/null count=1", "dd onto a file or device"),
        misses("dd if=disk.img bs=1M count=1", "dd onto a file or device"),

        hits("mkfs.ext4 /dev/sdb1", "make a filesystem"),
        hits("mkfs -t xfs /dev/sdc", "make a filesystem"),
        misses("mkfs.ext4 --help", "make a filesystem"),

        hits("wipefs -a /dev/sdb", "wipefs"),
        misses("wipefs /dev/sdb", "wipefs"),
        misses("wipefs -n -a /dev/sdb", "wipefs"),

        hits("cp /tmp/x .env", "mv or cp over a protected path"),
        hits("mv .git /tmp/old-git", "mv or cp over a protected path"),
        hits("cp plan.json infra/terraform.tfstate", "mv or cp over a protected path"),
        hits("mv -t /tmp .env", "mv or cp over a protected path"),
        misses("cp a.txt b.txt", "mv or cp over a protected path"),
        misses("cp ../x .", "mv or cp over a protected path"),
        misses("mv build dist", "mv or cp over a protected path"),
    ]

    static let git: [ExecCase] = [
        hits("git push --force", "git push --force"),
        hits("git push -f origin main", "git push --force"),
        hits("git push -uf origin main", "git push --force"),
        hits("git push --force-with-lease", "git push --force"),
        hits("git push --force-with-lease=main:abc123 origin main", "git push --force"),
        hits("git -C repo push --mirror", "git push --force"),
        hits("git push origin --delete feature", "git push --force"),
        hits("git -c push.default=current push -d origin feature", "git push --force"),
        misses("git push", "git push --force"),
        misses("git push origin main", "git push --force"),
        misses("git push --dry-run --force", "git push --force"),
        misses("git push -nf origin main", "git push --force"),
        misses("git log --force", "git push --force"),

        hits("git push origin +main", "git push +refspec or :ref"),
        hits("git push origin :old-branch", "git push +refspec or :ref"),
        misses("git push origin main:main", "git push +refspec or :ref"),

        hits("git reset --hard HEAD~3", "git reset --hard"),
        hits("git reset --merge", "git reset --hard"),
        misses("git reset HEAD file.c", "git reset --hard"),
        misses("git reset --soft HEAD~1", "git reset --hard"),

        hits("git clean -fdx", "git clean -f"),
        hits("git clean -f -d", "git clean -f"),
        hits("git clean --force", "git clean -f"),
        misses("git clean -n", "git clean -f"),
        misses("git clean -fdn", "git clean -f"),
        misses("git clean --dry-run -f", "git clean -f"),

        hits("git checkout -- src/main.c", "git checkout -- path"),
        hits("git checkout HEAD -- .", "git checkout -- path"),
        hits("git checkout -f main", "git checkout -- path"),
        misses("git checkout main", "git checkout -- path"),
        misses("git checkout -b feature", "git checkout -- path"),

        hits("git checkout .", "git checkout ."),
        misses("git checkout feature", "git checkout ."),

        hits("git restore src/main.c", "git restore"),
        hits("git restore .", "git restore"),
        misses("git restore --staged src/main.c", "git restore"),

        hits("git restore --staged --worktree src/main.c", "git restore --worktree"),
        misses("git restore -S src/main.c", "git restore --worktree"),

        hits("git branch -D feature", "git branch -D"),
        misses("git branch -d feature", "git branch -D"),
        misses("git branch feature", "git branch -D"),

        hits("git branch --delete --force feature", "git branch --delete --force"),
        hits("git branch -df feature", "git branch --delete --force"),
        misses("git branch --delete feature", "git branch --delete --force"),

        hits("git stash drop", "git stash drop"),
        hits("git stash clear", "git stash drop"),
        misses("git stash", "git stash drop"),
        misses("git stash pop", "git stash drop"),
        misses("git stash list", "git stash drop"),

        hits("git reflog expire --expire=now --all", "git reflog expire now"),
        hits("git reflog expire --expire-unreachable=now --all", "git reflog expire now"),
        misses("git reflog", "git reflog expire now"),
        misses("git reflog expire --expire=90.days.ago", "git reflog expire now"),

        hits("git gc --prune=now", "git gc --prune=now"),
        hits("git gc --aggressive --prune=all", "git gc --prune=now"),
        misses("git gc", "git gc --prune=now"),
        misses("git gc --prune=2.weeks.ago", "git gc --prune=now"),

        hits("git filter-branch --tree-filter true HEAD", "git history rewrite"),
        hits("git filter-repo --path secrets --invert-paths", "git history rewrite"),
        misses("git filter-repo --analyze", "git history rewrite"),
        misses("git log --oneline", "git history rewrite"),

        hits("gh repo delete org/repo --yes", "gh repo delete"),
        misses("gh repo view org/repo", "gh repo delete"),
    ]

    static let infrastructure: [ExecCase] = [
        hits("terraform destroy", "terraform destroy"),
        hits("tofu destroy -auto-approve", "terraform destroy"),
        hits("terraform -chdir=infra destroy", "terraform destroy"),
        hits("terragrunt run-all destroy", "terraform destroy"),
        hits("terragrunt run --all -- destroy", "terraform destroy"),
        misses("terraform plan", "terraform destroy"),
        misses("terraform destroy -help", "terraform destroy"),
        misses("terraform init", "terraform destroy"),
        misses("terraform workspace select destroy", "terraform destroy"),

        hits("terraform apply -destroy", "terraform -destroy"),
        hits("terraform plan -destroy -out=p", "terraform -destroy"),
        hits("tofu apply --destroy", "terraform -destroy"),
        misses("terraform apply", "terraform -destroy"),
        misses("terraform plan -out=p", "terraform -destroy"),

        hits("terraform apply -auto-approve", "terraform apply -auto-approve"),
        hits("terraform apply -auto-approve=true -var-file=prod.tfvars", "terraform apply -auto-approve"),
        misses("terraform validate", "terraform apply -auto-approve"),
        misses("terraform apply -auto-approve -help", "terraform apply -auto-approve"),

        hits("terraform state rm aws_instance.web", "terraform state rm"),
        hits("terraform state push old.tfstate", "terraform state rm"),
        hits("tofu state mv a b", "terraform state rm"),
        misses("terraform state list", "terraform state rm"),
        misses("terraform state show aws_instance.web", "terraform state rm"),

        hits("terraform taint aws_instance.web", "terraform taint"),
        misses("terraform untaint aws_instance.web", "terraform taint"),

        hits("terraform force-unlock 1234", "terraform force-unlock"),
        misses("terraform providers lock", "terraform force-unlock"),

        hits("terraform workspace delete staging", "terraform workspace delete"),
        misses("terraform workspace list", "terraform workspace delete"),

        hits("terraform apply", "TF_CLI_ARGS -destroy", env: ["TF_CLI_ARGS_apply=-destroy"]),
        hits("terraform plan", "TF_CLI_ARGS -destroy", env: ["PATH=/usr/bin", "TF_CLI_ARGS=-destroy -no-color"]),
        hits("env TF_CLI_ARGS_apply=-destroy terraform apply", "TF_CLI_ARGS -destroy"),
        hits(["sh", "-c", "TF_CLI_ARGS=-destroy terraform apply"], "TF_CLI_ARGS -destroy"),
        hits(["sh", "-c", "export TF_CLI_ARGS_apply=\"-destroy\"; terraform apply"], "TF_CLI_ARGS -destroy"),
        hits("terraform apply", "TF_CLI_ARGS -destroy", env: ["TF_CLI_ARGS_apply=-auto-approve"]),
        misses("terraform apply", "TF_CLI_ARGS -destroy", env: ["TF_CLI_ARGS=-no-color"]),
        misses("env -i terraform apply", "TF_CLI_ARGS -destroy", env: ["TF_CLI_ARGS_apply=-destroy"]),
        misses("env -u TF_CLI_ARGS_apply terraform apply", "TF_CLI_ARGS -destroy", env: ["TF_CLI_ARGS_apply=-destroy"]),
        misses("make apply", "TF_CLI_ARGS -destroy", env: ["TF_CLI_ARGS_apply=-destroy"]),

        hits("pulumi destroy --yes", "pulumi destroy"),
        hits("pulumi down", "pulumi destroy"),
        misses("pulumi destroy --preview-only", "pulumi destroy"),
        misses("pulumi preview", "pulumi destroy"),

        hits("pulumi up --yes", "pulumi up --yes"),
        hits("pulumi up -y -s prod", "pulumi up --yes"),
        misses("pulumi up", "pulumi up --yes"),

        hits("pulumi stack rm prod", "pulumi stack rm"),
        misses("pulumi stack ls", "pulumi stack rm"),

        hits("pulumi state delete urn:pulumi:x", "pulumi state delete"),
        misses("pulumi state unprotect urn:pulumi:x", "pulumi state delete"),

        hits("pulumi cancel --yes", "pulumi cancel"),
        misses("pulumi whoami", "pulumi cancel"),

        hits("cdk destroy --force", "cdk destroy"),
        hits("npx aws-cdk@2 destroy", "cdk destroy"),
        misses("cdk diff", "cdk destroy"),
        misses("npx cdk deploy", "cdk destroy"),

        hits("sam delete --stack-name app", "sam delete"),
        misses("sam deploy", "sam delete"),

        hits("serverless remove", "serverless remove"),
        hits("sls remove --stage prod", "serverless remove"),
        misses("sls deploy", "serverless remove"),
    ]

    static let cloud: [ExecCase] = [
        hits("aws cloudformation delete-stack --stack-name prod", "aws delete"),
        hits("aws cloudformation delete-stack-set --stack-set-name prod", "aws delete"),
        hits("aws ec2 terminate-instances --instance-ids i-1", "aws delete"),
        hits("aws rds delete-db-instance --db-instance-identifier db", "aws delete"),
        hits("aws rds delete-db-cluster --db-cluster-identifier db", "aws delete"),
        hits("aws eks delete-cluster --name c", "aws delete"),
        hits("aws iam delete-role --role-name r", "aws delete"),
        hits("aws secretsmanager delete-secret --secret-id s", "aws delete"),
        hits("aws s3api delete-bucket --bucket b", "aws delete"),
        hits("aws s3api delete-bucket-policy --bucket b", "aws delete"),
        hits("aws --region us-east-1 ec2 deregister-image --image-id ami-1", "aws delete"),
        hits("aws iam remove-role-from-instance-profile --role-name r", "aws delete"),
        misses("aws ec2 describe-instances", "aws delete"),
        misses("aws ec2 terminate-instances --dry-run --instance-ids i-1", "aws delete"),
        misses("aws ec2 delete-vpc help", "aws delete"),
        misses("aws s3 ls", "aws delete"),

        hits("aws kms schedule-key-deletion --key-id k", "aws kms schedule-key-deletion"),
        misses("aws kms describe-key --key-id k", "aws kms schedule-key-deletion"),

        hits("aws s3 rm s3://bucket --recursive", "aws s3 rm --recursive"),
        misses("aws s3 rm s3://bucket/key", "aws s3 rm --recursive"),
        misses("aws s3 rm s3://bucket --recursive --dryrun", "aws s3 rm --recursive"),

        hits("aws s3 rb s3://bucket --force", "aws s3 rb"),
        misses("aws s3 mb s3://bucket", "aws s3 rb"),

        hits("aws s3 sync . s3://bucket --delete", "aws s3 sync --delete"),
        misses("aws s3 sync . s3://bucket", "aws s3 sync --delete"),

        hits("gcloud projects delete my-project", "gcloud delete"),
        hits("gcloud compute instances delete vm-1 --zone z", "gcloud delete"),
        hits("gcloud sql instances delete db", "gcloud delete"),
        hits("gcloud container clusters delete c", "gcloud delete"),
        hits("gcloud functions delete f", "gcloud delete"),
        hits("gcloud run services delete s", "gcloud delete"),
        hits("gcloud beta run services delete s", "gcloud delete"),
        hits("gcloud storage buckets delete gs://b", "gcloud delete"),
        misses("gcloud compute instances list", "gcloud delete"),
        misses("gcloud projects describe my-project", "gcloud delete"),
        misses("gcloud compute instances delete --help", "gcloud delete"),

        hits("gcloud storage rm -r gs://b", "gcloud storage rm -r"),
        hits("gcloud storage rm --recursive gs://b/dir", "gcloud storage rm -r"),
        misses("gcloud storage rm gs://b/o", "gcloud storage rm -r"),

        hits("gsutil -m rm -r gs://b", "gsutil rm -r"),
        misses("gsutil rm gs://b/o", "gsutil rm -r"),

        hits("gsutil rb gs://b", "gsutil rb"),
        misses("gsutil mb gs://b", "gsutil rb"),

        hits("az group delete --name rg --yes", "az delete"),
        hits("az vm delete -g rg -n vm", "az delete"),
        hits("az storage account delete -n sa", "az delete"),
        hits("az sql db delete -n db", "az delete"),
        hits("az aks delete -n c", "az delete"),
        hits("az keyvault delete -n kv", "az delete"),
        hits("az cosmosdb delete -n c", "az delete"),
        hits("az acr delete -n r", "az delete"),
        misses("az group list", "az delete"),
        misses("az vm show -n vm", "az delete"),
        misses("az group delete --help", "az delete"),
    ]

    static let kubernetes: [ExecCase] = [
        hits("kubectl delete ns prod", "kubectl delete namespace, CRD, volume or workload"),
        hits("kubectl delete namespace prod", "kubectl delete namespace, CRD, volume or workload"),
        hits("kubectl delete namespace/prod", "kubectl delete namespace, CRD, volume or workload"),
        hits("kubectl -n kube-system delete deployment coredns", "kubectl delete namespace, CRD, volume or workload"),
        hits("kubectl delete pvc data-0", "kubectl delete namespace, CRD, volume or workload"),
        hits("kubectl delete pv pv-1", "kubectl delete namespace, CRD, volume or workload"),
        hits("kubectl delete crd widgets.example.com", "kubectl delete namespace, CRD, volume or workload"),
        hits("kubectl delete statefulset db", "kubectl delete namespace, CRD, volume or workload"),
        misses("kubectl get ns", "kubectl delete namespace, CRD, volume or workload"),
        misses("kubectl delete pod web-1", "kubectl delete namespace, CRD, volume or workload"),
        misses("kubectl delete ns prod --dry-run=client", "kubectl delete namespace, CRD, volume or workload"),
        misses("kubectl describe deployment web", "kubectl delete namespace, CRD, volume or workload"),

        hits("kubectl delete pods --all", "kubectl delete --all"),
        hits("kubectl delete pods -A -l app=web", "kubectl delete --all"),
        hits("kubectl delete pods --all-namespaces -l app=web", "kubectl delete --all"),
        misses("kubectl get pods --all-namespaces", "kubectl delete --all"),

        hits("kubectl delete -f k8s/", "kubectl delete -f"),
        hits("kubectl delete -k overlays/prod", "kubectl delete -f"),
        hits("kubectl delete --filename=manifest.yaml", "kubectl delete -f"),
        misses("kubectl apply -f k8s/", "kubectl delete -f"),
        misses("kubectl delete -f k8s/ --dry-run=server", "kubectl delete -f"),

        hits("kubectl delete pod web-1 --force --grace-period=0", "kubectl delete --force --grace-period=0"),
        hits("kubectl delete pod web-1 --grace-period 0 --force", "kubectl delete --force --grace-period=0"),
        misses("kubectl delete pod web-1 --force", "kubectl delete --force --grace-period=0"),
        misses("kubectl delete pod web-1 --grace-period=30 --force", "kubectl delete --force --grace-period=0"),

        hits("kubectl drain node-1 --ignore-daemonsets", "kubectl drain"),
        misses("kubectl drain node-1 --dry-run=client", "kubectl drain"),
        misses("kubectl cordon node-1", "kubectl drain"),

        hits("kubectl replace --force -f web.yaml", "kubectl replace --force"),
        misses("kubectl replace -f web.yaml", "kubectl replace --force"),

        hits("kubectl apply --prune -l app=web -f k8s/", "kubectl apply --prune"),
        misses("kubectl apply -f k8s/", "kubectl apply --prune"),

        hits("kubectl scale deployment web --replicas=0", "kubectl scale to zero"),
        hits("kubectl scale deploy/web --replicas 0", "kubectl scale to zero"),
        misses("kubectl scale deployment web --replicas=3", "kubectl scale to zero"),

        hits("helm uninstall web", "helm uninstall or rollback"),
        hits("helm delete web", "helm uninstall or rollback"),
        hits("helm rollback web 3", "helm uninstall or rollback"),
        hits("helm -n prod uninstall web", "helm uninstall or rollback"),
        misses("helm list", "helm uninstall or rollback"),
        misses("helm uninstall web --dry-run", "helm uninstall or rollback"),
        misses("helm upgrade web .", "helm uninstall or rollback"),

        hits("eksctl delete cluster --name c", "eksctl delete cluster"),
        misses("eksctl get cluster", "eksctl delete cluster"),
    ]

    static let containers: [ExecCase] = [
        hits("docker system prune -af", "docker prune"),
        hits("podman volume prune", "docker prune"),
        hits("docker image prune -a", "docker prune"),
        hits("docker -H tcp://host:2375 container prune", "docker prune"),
        hits("docker network prune -f", "docker prune"),
        misses("docker ps", "docker prune"),
        misses("docker system df", "docker prune"),
        misses("docker volume ls", "docker prune"),

        hits("docker rm -f web", "docker rm -f"),
        hits("podman rm --force web", "docker rm -f"),
        misses("docker rm web", "docker rm -f"),
        misses("docker run --rm -it alpine", "docker rm -f"),

        hits("docker container rm -f web", "docker container rm -f"),
        misses("docker container ls", "docker container rm -f"),

        hits("docker rmi -f app:latest", "docker rmi -f"),
        misses("docker rmi app:latest", "docker rmi -f"),

        hits("docker image rm -f app:latest", "docker image rm -f"),
        misses("docker image ls", "docker image rm -f"),

        hits("docker volume rm data", "docker volume rm"),
        misses("docker volume create data", "docker volume rm"),

        hits("docker compose down -v", "compose down -v"),
        hits("docker compose down --volumes", "compose down -v"),
        misses("docker compose down", "compose down -v"),
        misses("docker compose up -d", "compose down -v"),

        hits("docker-compose down -v", "docker-compose down -v"),
        misses("docker-compose down", "docker-compose down -v"),

        hits("podman system reset --force", "podman system reset"),
        misses("podman system info", "podman system reset"),
    ]

    static let databases: [ExecCase] = [
        hits("dropdb prod", "dropdb"),
        misses("dropdb --help", "dropdb"),
        misses("createdb prod", "dropdb"),

        hits("mysqladmin -u root -p drop prod", "mysqladmin drop"),
        misses("mysqladmin status", "mysqladmin drop"),

        hits(["psql", "-c", "DROP TABLE users"], "destructive SQL"),
        hits(["psql", "-d", "prod", "-c", "drop schema public cascade"], "destructive SQL"),
        hits(["psql", "-c", "BEGIN; TRUNCATE orders; COMMIT;"], "destructive SQL"),
        hits(["psql", "--command=DROP DATABASE prod"], "destructive SQL"),
        hits(["mysql", "-e", "drop database prod"], "destructive SQL"),
        hits(["sqlite3", "app.db", "DELETE FROM users"], "destructive SQL"),
        hits(["sqlite3", "app.db", "delete from users -- where id = 1"], "destructive SQL"),
        hits(["sh", "-c", "psql <<'SQL'\nDROP TABLE users;\nSQL\n"], "destructive SQL"),
        hits(["sh", "-c", "echo 'DROP TABLE users' | psql prod"], "destructive SQL"),
        hits(["bash", "-c", "psql <<< 'TRUNCATE logs'"], "destructive SQL"),
        misses(["psql", "-c", "SELECT * FROM users"], "destructive SQL"),
        misses(["sqlite3", "app.db", "DELETE FROM users WHERE id = 3"], "destructive SQL"),
        misses(["psql", "-c", "SELECT 'drop table x'"], "destructive SQL"),
        misses(["mysql", "-e", "show databases"], "destructive SQL"),
        misses(["sh", "-c", "psql <<'SQL'\nSELECT 1;\nSQL\necho DROP TABLE users"], "destructive SQL"),

        hits("redis-cli FLUSHALL", "redis flush or shutdown"),
        hits("redis-cli -h cache -n 2 flushdb", "redis flush or shutdown"),
        hits("redis-cli shutdown", "redis flush or shutdown"),
        misses("redis-cli GET key", "redis flush or shutdown"),
        misses("redis-cli -h flushall.example.com get key", "redis flush or shutdown"),

        hits(["mongosh", "--eval", "db.dropDatabase()"], "mongosh drop"),
        hits(["mongosh", "prod", "--eval", "db.users.drop()"], "mongosh drop"),
        hits(["mongosh", "--eval", "db.users.deleteMany({})"], "mongosh drop"),
        misses(["mongosh", "--eval", "db.users.find()"], "mongosh drop"),
        misses(["mongosh", "--eval", "db.users.deleteMany({age: 3})"], "mongosh drop"),

        hits("prisma migrate reset --force", "prisma migrate reset"),
        hits("npx prisma migrate reset", "prisma migrate reset"),
        misses("prisma migrate dev", "prisma migrate reset"),
        misses("prisma migrate reset --help", "prisma migrate reset"),

        hits("rails db:drop", "rails db:drop"),
        hits("bin/rails db:reset", "rails db:drop"),
        hits("bundle exec rake db:drop", "rails db:drop"),
        misses("rails db:migrate", "rails db:drop"),
        misses("rails server", "rails db:drop"),

        hits("django-admin flush --noinput", "django flush"),
        hits("./manage.py flush", "django flush"),
        misses("django-admin migrate", "django flush"),

        hits("python manage.py flush --noinput", "python manage.py flush"),
        hits("python3 manage.py flush", "python manage.py flush"),
        misses("python manage.py migrate", "python manage.py flush"),
    ]

    static let packages: [ExecCase] = [
        hits("npm publish", "publish a package"),
        hits("npm publish --access public", "publish a package"),
        hits("cargo publish", "publish a package"),
        hits("poetry publish --build", "publish a package"),
        hits("pnpm publish", "publish a package"),
        hits("yarn publish", "publish a package"),
        misses("npm publish --dry-run", "publish a package"),
        misses("cargo publish --dry-run", "publish a package"),
        misses("npm pack", "publish a package"),

        hits("yarn npm publish", "yarn npm publish"),
        misses("yarn npm info left-pad", "yarn npm publish"),

        hits("twine upload dist/pkg.tar.gz", "twine upload"),
        misses("twine check dist/pkg.tar.gz", "twine upload"),

        hits("npm unpublish pkg@1.0.0", "npm unpublish"),
        misses("npm unpublish pkg@1.0.0 --dry-run", "npm unpublish"),

        hits("cargo yank --version 1.0.0", "cargo yank"),
        misses("cargo yank --version 1.0.0 --undo", "cargo yank"),

        hits("gem push pkg-1.0.gem", "gem push"),
        misses("gem build pkg.gemspec", "gem push"),
    ]

    static let all = filesystem + git + infrastructure + cloud + kubernetes + containers + databases + packages

    @Test(arguments: all)
    func theDefaultProfileDecidesEachCommandLineAsTheCatalogueSays(example: ExecCase) {
        let match = example.classify()
        #expect(match?.rule == example.rule, "\(match.map { "\($0.rule): \($0.reason)" } ?? "no match")")
        if example.rule != nil { #expect(match?.action == .hold) }
    }

    @Test func everyCatalogueRuleHasCasesItMatchesAndNearMissesItMustNot() {
        let names = defaultProfile.exec.map(\.name)
        let matched = Set(Self.all.compactMap(\.rule))
        let nearMisses = Set(Self.all.compactMap(\.nearMissOf))
        for name in names {
            #expect(matched.contains(name), "no case matches \"\(name)\"")
            #expect(nearMisses.contains(name), "no near miss of \"\(name)\"")
        }
        #expect(matched.union(nearMisses).subtracting(names).isEmpty, "cases name rules the profile lacks")
    }

    @Test func theDefaultProfileHasTheWholeCatalogueAndEveryRuleHolds() {
        #expect(defaultProfile.exec.count >= 80)
        #expect(defaultProfile.exec.allSatisfy { $0.action == .hold })
        #expect(Set(defaultProfile.exec.map(\.name)).count == defaultProfile.exec.count)
    }

    @Test(arguments: shippedProfileNames)
    func everyShippedProfileInheritsTheCatalogue(name: String) throws {
        #expect(try shippedLoader.load(name).exec == defaultProfile.exec)
    }
}
