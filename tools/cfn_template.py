"""template.yaml as the tools read it: CloudFormation's short tags in their long forms, and the
template after the SAM transform, which is what CloudFormation deploys (policy templates
expanded into each function's role)."""
import copy

import yaml


class Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref X becomes {"Ref": "X"})."""


def _intrinsic(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        return {name: value.split(".", 1) if suffix == "GetAtt" else value}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}


Loader.add_multi_constructor("!", _intrinsic)


def load(path):
    with open(path) as source:
        return yaml.load(source, Loader=Loader)


def sam_transformed(template, region="us-east-1"):
    """The template as CloudFormation gets it from AWS::Serverless-2016-10-31 (the SAM translator
    that `sam deploy` and cfn-lint use). Intrinsics stay unresolved; AWS managed policies are
    kept as ARNs, the translator needing their names only for bare policy names, which the
    template does not use."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    packaged = copy.deepcopy(template)  # as `sam package` leaves it: code and definitions in S3
    for spec in [packaged.get("Globals", {}).get("Function", {})] + list(packaged["Resources"].values()):
        properties = spec.get("Properties", spec)
        for field in ("CodeUri", "DefinitionUri"):
            if isinstance(properties.get(field), str):
                properties[field] = f"s3://packaged/{properties[field]}"
    translator = Translator(managed_policy_map={}, sam_parser=Parser(),
                            boto_session=boto3.session.Session(region_name=region))
    return translator.translate(packaged, parameter_values={})


def function_role(transformed, function):
    """The execution role the transform made for `function`: (inline policies as
    [{"PolicyName", "PolicyDocument"}], managed policy ARNs)."""
    role = transformed["Resources"][function]["Properties"]["Role"]
    if not (isinstance(role, dict) and "Fn::GetAtt" in role):
        raise ValueError(f"{function} names its own role; the template should let SAM make it")
    properties = transformed["Resources"][role["Fn::GetAtt"][0]]["Properties"]
    return properties.get("Policies", []), properties.get("ManagedPolicyArns", [])
